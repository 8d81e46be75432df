/** A request's text or image cannot be preprocessed (the message says which and why). */
export class PreprocessError extends Error {
  override readonly name = 'PreprocessError';
}
