// Launch-overhead microbenchmark: a dispatch that does nothing but write one word, so a run of
// them measures what each dispatch costs on its own (issue 18's decode floor).
@group(0) @binding(0) var<uniform> p: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> OUT: array<u32>;

@compute @workgroup_size(1)
fn main() {
  OUT[0] = p.x;
}
