/** Synthetic checkpoints for benchmarks: real safetensors bytes, any number of shards. */
const enc = new TextEncoder();

/** One shard: real safetensors bytes, BF16 tensors with layer-like names, header padded to 8. */
export function makeShard(shardIndex: number, tensors: number, dataBytes: number): { bytes: Uint8Array; names: string[]; params: number } {
  const per = Math.max(2, Math.floor(dataBytes / tensors / 2) * 2); // bytes per tensor, even (BF16)
  const names: string[] = [];
  const entries: string[] = [];
  let at = 0;
  for (let t = 0; t < tensors; t++) {
    const name = `model.layers.${shardIndex}.${['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj', 'input_layernorm'][t % 8]}.${t}.weight`;
    const elems = per / 2;
    entries.push(
      `${JSON.stringify(name)}:{"dtype":"BF16","shape":[${elems / 2 === Math.floor(elems / 2) ? `2,${elems / 2}` : `${elems}`}],"data_offsets":[${at},${at + per}]}`,
    );
    names.push(name);
    at += per;
  }
  let header = `{"__metadata__":{"format":"pt"},${entries.join(',')}}`;
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const h = enc.encode(header);
  const bytes = new Uint8Array(8 + h.length + at);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(h.length), true);
  bytes.set(h, 8);
  for (let i = 8 + h.length; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
  return { bytes, names, params: at / 2 };
}

export function makeCheckpoint(n: number, tensors: number, dataBytes: number): { files: Array<{ name: string; bytes: Uint8Array }>; params: number } {
  const files: Array<{ name: string; bytes: Uint8Array }> = [];
  const weightMap: Record<string, string> = {};
  let params = 0;
  let totalSize = 0;
  for (let s = 0; s < n; s++) {
    const name = n === 1 ? 'model.safetensors' : `model-${String(s + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const shard = makeShard(s, tensors, dataBytes);
    files.push({ name, bytes: shard.bytes });
    for (const t of shard.names) weightMap[t] = name;
    params += shard.params;
    totalSize += shard.params * 2;
  }
  if (n > 1)
    files.push({
      name: 'model.safetensors.index.json',
      bytes: enc.encode(JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)),
    });
  files.push({
    name: 'config.json',
    bytes: enc.encode(
      JSON.stringify({
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        num_hidden_layers: n,
        hidden_size: 64,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        torch_dtype: 'bfloat16',
      }),
    ),
  });
  files.push({ name: 'tokenizer.json', bytes: enc.encode('{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}') });
  return { files, params };
}
