/**
 * FastRP node embeddings (Chen et al., CIKM 2019; the algorithm Neo4j GDS ships), in plain
 * TypeScript over typed arrays. Relation-aware through per-edge-type weights; deterministic:
 * a node's initial sparse random vector depends only on (seed, node id), so two runs over
 * overlapping neighbourhoods start every shared node from the same vector.
 *
 * Cost: O(iterations × edges × dim). Memory: three n × dim float arrays.
 */

export interface FastRPOptions {
  /** Output dimension. @defaultValue 128 */
  dim?: number;
  /**
   * Weight of each propagation round's (L2-normalised) vector in the result; its length is
   * the number of rounds. GDS's default [0, 1, 1] ignores 1-hop-only similarity.
   * @defaultValue [0, 1, 1]
   */
  iterationWeights?: readonly number[];
  /** Weight of the initial random vector in the result. @defaultValue 0 */
  selfInfluence?: number;
  /** Initial vectors are scaled by degree^strength; negative values damp hubs. @defaultValue 0 */
  normalizationStrength?: number;
  /** Weight per edge type (missing types weigh 1; 0 ignores the type). @defaultValue {} */
  edgeTypeWeights?: Readonly<Record<string, number>>;
  /** Random seed. @defaultValue 42 */
  seed?: number;
}

export interface FastRPGraph {
  /** Node ids; the embedding of nodeIds[i] is row i of the result. */
  nodeIds: ArrayLike<number>;
  /** Edges as indexes into nodeIds (treated as undirected: messages flow both ways). */
  src: Int32Array;
  dst: Int32Array;
  /** Edge type index per edge, into `types`. */
  type?: Uint16Array;
  types?: readonly string[];
}

/** 32-bit mix (murmur3 finaliser). */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Seed of a node's random vector: mixes the seed with both 32-bit halves of the id. */
function nodeSeed(seed: number, id: number): number {
  const lo = id >>> 0;
  const hi = Math.floor(id / 4294967296) >>> 0;
  return mix32(mix32(seed ^ 0x9e3779b9) ^ mix32(lo + 0x7f4a7c15) ^ mix32(hi ^ 0x165667b1)) || 1;
}

/**
 * Compute embeddings: returns a Float32Array of nodeIds.length × dim, each row L2-normalised.
 * A node without edges keeps its (normalised) random vector, so isolated nodes are distinct.
 */
export function fastRP(graph: FastRPGraph, options: FastRPOptions = {}): Float32Array {
  const dim = options.dim ?? 128;
  const weights = options.iterationWeights ?? [0, 1, 1];
  const self = options.selfInfluence ?? 0;
  const strength = options.normalizationStrength ?? 0;
  const seed = options.seed ?? 42;
  const n = graph.nodeIds.length;
  const m = graph.src.length;

  // Edge weights by type.
  const typeW = new Float32Array(Math.max(1, graph.types?.length ?? 1)).fill(1);
  if (graph.types && options.edgeTypeWeights) graph.types.forEach((t, i) => (typeW[i] = options.edgeTypeWeights?.[t] ?? 1));

  // Undirected CSR: each edge contributes to both endpoints.
  const deg = new Float64Array(n);
  const count = new Int32Array(n + 1);
  for (let e = 0; e < m; e++) {
    const w = typeW[graph.type ? (graph.type[e] as number) : 0] as number;
    if (w === 0) continue;
    const s = graph.src[e] as number;
    const d = graph.dst[e] as number;
    count[s + 1] = (count[s + 1] as number) + 1;
    count[d + 1] = (count[d + 1] as number) + 1;
    deg[s] = (deg[s] as number) + w;
    deg[d] = (deg[d] as number) + w;
  }
  for (let i = 0; i < n; i++) count[i + 1] = (count[i + 1] as number) + (count[i] as number);
  const offsets = count.slice();
  const adj = new Int32Array(count[n] as number);
  const adjW = new Float32Array(count[n] as number);
  const fill = offsets.slice(0, n);
  for (let e = 0; e < m; e++) {
    const w = typeW[graph.type ? (graph.type[e] as number) : 0] as number;
    if (w === 0) continue;
    const s = graph.src[e] as number;
    const d = graph.dst[e] as number;
    adj[fill[s] as number] = d;
    adjW[(fill[s] as number)++] = w;
    adj[fill[d] as number] = s;
    adjW[(fill[d] as number)++] = w;
  }

  // Very sparse random projection (s = 3): ±sqrt(3/dim) with probability 1/6 each.
  const initial = new Float32Array(n * dim);
  const v = Math.sqrt(3 / dim);
  for (let i = 0; i < n; i++) {
    let state = nodeSeed(seed, graph.nodeIds[i] as number);
    const scale = strength !== 0 && (deg[i] as number) > 0 ? Math.pow(deg[i] as number, strength) : 1;
    const base = i * dim;
    for (let j = 0; j < dim; j++) {
      // xorshift32
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const r = (state >>> 0) % 6;
      if (r === 0) initial[base + j] = v * scale;
      else if (r === 1) initial[base + j] = -v * scale;
    }
  }

  const out = new Float32Array(n * dim);
  if (self !== 0) for (let k = 0; k < out.length; k++) out[k] = self * (initial[k] as number);
  let prev = initial;
  let cur = new Float32Array(n * dim);
  for (let it = 0; it < weights.length; it++) {
    cur.fill(0);
    for (let i = 0; i < n; i++) {
      const start = offsets[i] as number;
      const end = offsets[i + 1] as number;
      if (start === end) continue;
      const base = i * dim;
      for (let p = start; p < end; p++) {
        const w = adjW[p] as number;
        const nb = (adj[p] as number) * dim;
        for (let j = 0; j < dim; j++) cur[base + j] = (cur[base + j] as number) + w * (prev[nb + j] as number);
      }
      // Mean then L2-normalise: the mean's scale cancels, so normalise the sum directly.
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += (cur[base + j] as number) ** 2;
      if (norm > 0) {
        const inv = 1 / Math.sqrt(norm);
        for (let j = 0; j < dim; j++) cur[base + j] = (cur[base + j] as number) * inv;
      }
    }
    const w = weights[it] as number;
    if (w !== 0) for (let k = 0; k < out.length; k++) out[k] = (out[k] as number) + w * (cur[k] as number);
    const t = prev === initial ? new Float32Array(n * dim) : prev;
    prev = cur;
    cur = t;
  }

  // Final L2 normalisation; isolated (or all-zero) rows fall back to their random vector.
  for (let i = 0; i < n; i++) {
    const base = i * dim;
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (out[base + j] as number) ** 2;
    if (norm === 0) {
      for (let j = 0; j < dim; j++) out[base + j] = initial[base + j] as number;
      for (let j = 0; j < dim; j++) norm += (out[base + j] as number) ** 2;
    }
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let j = 0; j < dim; j++) out[base + j] = (out[base + j] as number) * inv;
    }
  }
  return out;
}

/** Build a FastRPGraph from node ids and id-based edge triples (edges to unknown ids are skipped). */
export function graphFromTriples(nodeIds: readonly number[], edges: ReadonlyArray<{ src: number; dst: number; type: string }>): FastRPGraph {
  const index = new Map<number, number>();
  nodeIds.forEach((id, i) => index.set(id, i));
  const types: string[] = [];
  const typeIndex = new Map<string, number>();
  const src = new Int32Array(edges.length);
  const dst = new Int32Array(edges.length);
  const type = new Uint16Array(edges.length);
  let k = 0;
  for (const e of edges) {
    const s = index.get(e.src);
    const d = index.get(e.dst);
    if (s === undefined || d === undefined) continue;
    let t = typeIndex.get(e.type);
    if (t === undefined) {
      t = types.length;
      types.push(e.type);
      typeIndex.set(e.type, t);
    }
    src[k] = s;
    dst[k] = d;
    type[k++] = t;
  }
  return { nodeIds, src: src.subarray(0, k), dst: dst.subarray(0, k), type: type.subarray(0, k), types };
}
