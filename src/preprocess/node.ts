// Reading image files in Node (CLIs, tests). Browser code never imports this file.
import { readFile } from 'node:fs/promises';
import { RawImage } from '@huggingface/transformers';

/**
 * Decodes a PNG, JPEG, WebP, GIF (first frame) or TIFF file into a RawImage, through sharp
 * (transformers.js's Node image backend; EXIF orientation applied). The result has the file's
 * channels (1, 3 or 4); preprocessImage converts to RGB.
 */
export async function readImageFile(path: string): Promise<RawImage> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`cannot read image ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return await RawImage.fromBlob(new Blob([bytes]));
  } catch (e) {
    throw new Error(`${path} is not an image sharp can decode (${e instanceof Error ? e.message : String(e)})`);
  }
}
