/**
 * The `vllm serve` flag table of the pinned image `vllm/vllm-openai:v0.11.2`, as data (read by ./args.ts).
 *
 * Transcribed by hand, row by row, from vLLM's own source (no Python or vLLM runs here, so the
 * parser could not be dumped mechanically; docs/serving-sim.md "Flags" and docs/UPSTREAM.md V19):
 *  - E: vllm-project/vllm@99d7eb5d6a512cfcc5a2b104f24ebf2d6cda772b vllm/engine/arg_utils.py —
 *    `EngineArgs.add_cli_args`, `AsyncEngineArgs.add_cli_args`, the EngineArgs field annotations and
 *    `_compute_kwargs` (how a field's type becomes argparse kwargs). The v0.11.2 tag's own commit could
 *    not be brought here (the repository is over the fetch limit) and it is not among the stored
 *    revisions; 99d7eb5d is the one stored revision of arg_utils.py, from the v0.11.x line (its
 *    deprecations say "will be removed in v0.12.0"). It carries one flag no release has
 *    (`--external_parameters`, a pull-request addition), which the table leaves out.
 *  - F: vllm-project/vllm@789340fbad95a900ca3c467c9cee33b3d905fd61 vllm/entrypoints/openai/cli_args.py —
 *    `FrontendArgs` and `make_arg_parser` (model_tag, --headless, --api-server-count, --config).
 *
 * How a row's type was derived (arg_utils.py `_compute_kwargs`, E): bool fields →
 * `BooleanOptionalAction` (`--x` / `--no-x`); a Literal without `str` → `choices` (sorted); a Literal
 * with `str` → any string; list/tuple/set → `nargs='+'`; int (max_model_len, max_num_batched_tokens,
 * kv_cache_memory_bytes: `human_readable_int`); float; dict with str or a non-builtin → `union_dict_and_str`;
 * dict → `json.loads`; a dataclass → pydantic JSON. A field that admits None is wrapped in
 * `optional_type` (`''`/`'None'` → None; a bad value reads "Value X cannot be converted to …").
 *
 * Literal aliases whose members at v0.11.2 could not be read at a matching revision (TokenizerMode,
 * RunnerOption, ConvertOption, TaskOption, LogprobsMode, CacheDType, BlockSize, MambaDType,
 * PrefixCachingHashAlgo, MMCacheType, MMEncoderTPMode, ExpertPlacementStrategy, QuantizationMethods,
 * the registered reasoning parsers) are `choicesUnverified`: their type is checked, their choices are
 * not (the stand-in accepts a value vLLM might refuse). Choices are enforced only where every stored
 * revision agrees: ModelDType, SchedulerPolicy, DetailedTraceModules, uvicorn log levels,
 * ChatTemplateContentFormatOption.
 */

export type ValueType =
  /** `str` (or a Literal with `str`): anything. */
  | 'str'
  /** `int`. */
  | 'int'
  /** `float`. */
  | 'float'
  /** vLLM's `human_readable_int` (1k, 2M; decimals only with decimal suffixes). */
  | 'human_int'
  /** `parse_type(json.loads)`: JSON, or "Value X cannot be converted to <function loads …>." */
  | 'json'
  /** bare `json.loads` (frontend): JSON, or argparse's "invalid loads value". */
  | 'json_loads'
  /** `union_dict_and_str`: `{…}` must be JSON, anything else is kept as a string. */
  | 'dict_or_str'
  /** A config dataclass validated by pydantic from JSON. */
  | 'dataclass'
  /** `type=bool` (the deprecated guided-decoding flags): any string. */
  | 'bool_type';

export interface FlagRow {
  /** Option strings in declaration order (argparse names the argument by joining them with '/'). */
  flags: readonly string[];
  action: 'store' | 'store_true' | 'boolean_optional' | 'append' | 'lora_modules' | 'optional_const';
  type?: ValueType;
  /** Wrapped in vLLM's `optional_type`. */
  optional?: boolean;
  nargs?: '+';
  /** Choices as argparse holds them (sorted; 'None' appended when optional). */
  choices?: readonly string[];
  /** The field is a Literal whose members were not read at a matching revision (see the header). */
  choicesUnverified?: true;
  /** For `dataclass` rows: the config class pydantic validates. */
  dataclass?: string;
  deprecated?: true;
  /** Source: E or F (header) and the field / call it comes from. */
  src: string;
}

/** The source revisions (recorded in docs/UPSTREAM.md V19). */
export const FLAG_SOURCES = {
  tag: 'v0.11.2',
  engineArgs: 'vllm-project/vllm@99d7eb5d6a512cfcc5a2b104f24ebf2d6cda772b:vllm/engine/arg_utils.py',
  frontend: 'vllm-project/vllm@789340fbad95a900ca3c467c9cee33b3d905fd61:vllm/entrypoints/openai/cli_args.py',
} as const;

const row = (flags: string | string[], r: Omit<FlagRow, 'flags'>): FlagRow => ({ flags: Array.isArray(flags) ? flags : [flags], ...r });
const s = (f: string | string[], src: string, o: Partial<FlagRow> = {}): FlagRow => row(f, { action: 'store', type: 'str', src, ...o });
const os_ = (f: string | string[], src: string, o: Partial<FlagRow> = {}): FlagRow => s(f, src, { optional: true, ...o });
const i = (f: string | string[], src: string, o: Partial<FlagRow> = {}): FlagRow => row(f, { action: 'store', type: 'int', src, ...o });
const oi = (f: string | string[], src: string, o: Partial<FlagRow> = {}): FlagRow => i(f, src, { optional: true, ...o });
const fl = (f: string, src: string, o: Partial<FlagRow> = {}): FlagRow => row(f, { action: 'store', type: 'float', src, ...o });
const b = (f: string, src: string, o: Partial<FlagRow> = {}): FlagRow => row(f, { action: 'boolean_optional', src, ...o });
const st = (f: string, src: string, o: Partial<FlagRow> = {}): FlagRow => row(f, { action: 'store_true', src, ...o });
const js = (f: string, src: string, o: Partial<FlagRow> = {}): FlagRow => row(f, { action: 'store', type: 'json', src, ...o });
const dc = (f: string | string[], cls: string, src: string, o: Partial<FlagRow> = {}): FlagRow =>
  row(f, { action: 'store', type: 'dataclass', dataclass: cls, src, ...o });
const lit = (f: string | string[], src: string, o: Partial<FlagRow> = {}): FlagRow => s(f, src, { choicesUnverified: true, ...o });

/** `DetailedTraceModules` and the pairs arg_utils.py adds (E: add_cli_args, "TODO: generalise this special case"). */
const TRACE_MODULES = ['all', 'model', 'worker'];
const TRACE_CHOICES = [
  ...TRACE_MODULES,
  'None',
  ...['model', 'worker', 'all'].flatMap((a) => ['model', 'worker', 'all'].filter((x) => x !== a).map((x) => `${a},${x}`)),
];

export const VLLM_V0_11_2_FLAGS: readonly FlagRow[] = [
  // ---- make_arg_parser (F) -------------------------------------------------------------------------
  st('--headless', 'F make_arg_parser'),
  i(['--api-server-count', '-asc'], 'F make_arg_parser'),
  s('--config', 'F make_arg_parser'),
  // ---- FrontendArgs (F) ----------------------------------------------------------------------------
  os_('--host', 'F FrontendArgs.host: str | None'),
  i('--port', 'F FrontendArgs.port: int'),
  os_('--uds', 'F FrontendArgs.uds'),
  s('--uvicorn-log-level', 'F FrontendArgs.uvicorn_log_level: Literal[…]', { choices: ['critical', 'debug', 'error', 'info', 'trace', 'warning'] }),
  b('--disable-uvicorn-access-log', 'F FrontendArgs.disable_uvicorn_access_log: bool'),
  b('--allow-credentials', 'F FrontendArgs.allow_credentials: bool'),
  row('--allowed-origins', { action: 'store', type: 'json_loads', src: 'F allowed_origins (type=json.loads, nargs removed)' }),
  row('--allowed-methods', { action: 'store', type: 'json_loads', src: 'F allowed_methods (type=json.loads, nargs removed)' }),
  row('--allowed-headers', { action: 'store', type: 'json_loads', src: 'F allowed_headers (type=json.loads, nargs removed)' }),
  os_('--api-key', 'F FrontendArgs.api_key: list[str] | None', { nargs: '+' }),
  row('--lora-modules', { action: 'lora_modules', type: 'str', optional: true, nargs: '+', src: 'F lora_modules (LoRAParserAction)' }),
  os_('--chat-template', 'F FrontendArgs.chat_template'),
  s('--chat-template-content-format', 'F ChatTemplateContentFormatOption', { choices: ['auto', 'openai', 'string'] }),
  b('--trust-request-chat-template', 'F FrontendArgs.trust_request_chat_template: bool'),
  s('--response-role', 'F FrontendArgs.response_role: str'),
  os_('--ssl-keyfile', 'F FrontendArgs.ssl_keyfile'),
  os_('--ssl-certfile', 'F FrontendArgs.ssl_certfile'),
  os_('--ssl-ca-certs', 'F FrontendArgs.ssl_ca_certs'),
  b('--enable-ssl-refresh', 'F FrontendArgs.enable_ssl_refresh: bool'),
  i('--ssl-cert-reqs', 'F FrontendArgs.ssl_cert_reqs: int'),
  os_('--root-path', 'F FrontendArgs.root_path'),
  row('--middleware', { action: 'append', type: 'str', src: 'F middleware (action=append)' }),
  b('--return-tokens-as-token-ids', 'F FrontendArgs.return_tokens_as_token_ids: bool'),
  b('--disable-frontend-multiprocessing', 'F FrontendArgs.disable_frontend_multiprocessing: bool'),
  b('--enable-request-id-headers', 'F FrontendArgs.enable_request_id_headers: bool'),
  b('--enable-auto-tool-choice', 'F FrontendArgs.enable_auto_tool_choice: bool'),
  b('--exclude-tools-when-tool-choice-none', 'F FrontendArgs.exclude_tools_when_tool_choice_none: bool'),
  os_('--tool-call-parser', 'F FrontendArgs.tool_call_parser (metavar, not choices)'),
  s('--tool-parser-plugin', 'F FrontendArgs.tool_parser_plugin: str'),
  os_('--tool-server', 'F FrontendArgs.tool_server'),
  os_('--log-config-file', 'F FrontendArgs.log_config_file'),
  oi('--max-log-len', 'F FrontendArgs.max_log_len: int | None'),
  b('--disable-fastapi-docs', 'F FrontendArgs.disable_fastapi_docs: bool'),
  b('--enable-prompt-tokens-details', 'F FrontendArgs.enable_prompt_tokens_details: bool'),
  b('--enable-server-load-tracking', 'F FrontendArgs.enable_server_load_tracking: bool'),
  b('--enable-force-include-usage', 'F FrontendArgs.enable_force_include_usage: bool'),
  b('--enable-tokenizer-info-endpoint', 'F FrontendArgs.enable_tokenizer_info_endpoint: bool'),
  b('--enable-log-outputs', 'F FrontendArgs.enable_log_outputs: bool'),
  i('--h11-max-incomplete-event-size', 'F FrontendArgs.h11_max_incomplete_event_size: int'),
  i('--h11-max-header-count', 'F FrontendArgs.h11_max_header_count: int'),
  b('--log-error-stack', 'F FrontendArgs.log_error_stack: bool'),
  b('--tokens-only', 'F FrontendArgs.tokens_only: bool'),
  // ---- ModelConfig (E) -----------------------------------------------------------------------------
  s('--model', 'E model: str'),
  lit('--runner', 'E runner: RunnerOption'),
  lit('--convert', 'E convert: ConvertOption'),
  lit('--task', 'E task: TaskOption | None (deprecated)', { optional: true, deprecated: true }),
  os_('--tokenizer', 'E tokenizer: str | None'),
  lit('--tokenizer-mode', 'E tokenizer_mode: TokenizerMode'),
  b('--trust-remote-code', 'E trust_remote_code: bool'),
  s('--dtype', 'E dtype: ModelDType', { choices: ['auto', 'bfloat16', 'float', 'float16', 'float32', 'half'] }),
  oi('--seed', 'E seed: int | None'),
  os_('--hf-config-path', 'E hf_config_path: str | None'),
  s('--allowed-local-media-path', 'E allowed_local_media_path: str'),
  os_('--allowed-media-domains', 'E allowed_media_domains: list[str] | None', { nargs: '+' }),
  os_('--revision', 'E revision: str | None'),
  os_('--code-revision', 'E code_revision: str | None'),
  js('--rope-scaling', 'E rope_scaling: dict[str, Any]'),
  row('--rope-theta', { action: 'store', type: 'float', optional: true, src: 'E rope_theta: float | None' }),
  os_('--tokenizer-revision', 'E tokenizer_revision: str | None'),
  row('--max-model-len', { action: 'store', type: 'human_int', optional: true, src: 'E max_model_len: int | None (human_readable_int)' }),
  lit(['--quantization', '-q'], 'E quantization: QuantizationMethods | None', { optional: true }),
  b('--enforce-eager', 'E enforce_eager: bool'),
  i('--max-logprobs', 'E max_logprobs: int'),
  lit('--logprobs-mode', 'E logprobs_mode: LogprobsMode'),
  b('--disable-sliding-window', 'E disable_sliding_window: bool'),
  b('--disable-cascade-attn', 'E disable_cascade_attn: bool'),
  b('--skip-tokenizer-init', 'E skip_tokenizer_init: bool'),
  b('--enable-prompt-embeds', 'E enable_prompt_embeds: bool'),
  os_('--served-model-name', 'E served_model_name: str | list[str] | None', { nargs: '+' }),
  s('--config-format', 'E config_format: str'),
  row('--hf-token', { action: 'optional_const', type: 'str', src: 'E add_argument("--hf-token", type=str, nargs="?", const=True)' }),
  row('--hf-overrides', { action: 'store', type: 'dict_or_str', src: 'E hf_overrides: HfOverrides (dict | Callable)' }),
  dc('--pooler-config', 'PoolerConfig', 'E pooler_config: PoolerConfig | None', { optional: true }),
  dc('--override-pooler-config', 'PoolerConfig', 'E override_pooler_config: dict | PoolerConfig | None (deprecated)', { optional: true, deprecated: true }),
  os_('--logits-processor-pattern', 'E logits_processor_pattern: str | None'),
  s('--generation-config', 'E generation_config: str'),
  js('--override-generation-config', 'E override_generation_config: dict[str, Any]'),
  b('--enable-sleep-mode', 'E enable_sleep_mode: bool'),
  s('--model-impl', 'E model_impl: str'),
  s('--override-attention-dtype', 'E override_attention_dtype: str'),
  os_('--logits-processors', 'E logits_processors: list[str | type] | None', { nargs: '+' }),
  os_('--io-processor-plugin', 'E io_processor_plugin: str | None'),
  // ---- LoadConfig (E) ------------------------------------------------------------------------------
  s('--load-format', 'E load_format: str | LoadFormats (str in the union: any string parses; the loader registry refuses later)'),
  os_('--download-dir', 'E download_dir: str | None'),
  s('--safetensors-load-strategy', 'E safetensors_load_strategy: str'),
  row('--model-loader-extra-config', { action: 'store', type: 'dict_or_str', src: 'E model_loader_extra_config: dict (LoadConfig: dict | TensorizerConfig)' }),
  s('--ignore-patterns', 'E ignore_patterns: str | list[str]', { nargs: '+' }),
  b('--use-tqdm-on-load', 'E use_tqdm_on_load: bool'),
  row('--pt-load-map-location', { action: 'store', type: 'dict_or_str', src: 'E pt_load_map_location: str | dict[str, str]' }),
  // ---- StructuredOutputsConfig (E) -----------------------------------------------------------------
  lit('--reasoning-parser', 'E choices=list(ReasoningParserManager.reasoning_parsers)'),
  row('--guided-decoding-backend', { action: 'store', type: 'str', deprecated: true, src: 'E deprecated, type=str' }),
  row('--guided-decoding-disable-fallback', { action: 'store', type: 'bool_type', deprecated: true, src: 'E deprecated, type=bool' }),
  row('--guided-decoding-disable-any-whitespace', { action: 'store', type: 'bool_type', deprecated: true, src: 'E deprecated, type=bool' }),
  row('--guided-decoding-disable-additional-properties', { action: 'store', type: 'bool_type', deprecated: true, src: 'E deprecated, type=bool' }),
  // ---- ParallelConfig (E) --------------------------------------------------------------------------
  os_('--distributed-executor-backend', 'E distributed_executor_backend: str | DistributedExecutorBackend | type | None (str: any string)'),
  i(['--pipeline-parallel-size', '-pp'], 'E pipeline_parallel_size: int'),
  i(['--tensor-parallel-size', '-tp'], 'E tensor_parallel_size: int'),
  i(['--decode-context-parallel-size', '-dcp'], 'E decode_context_parallel_size: int'),
  i(['--data-parallel-size', '-dp'], 'E data_parallel_size: int'),
  i(['--data-parallel-rank', '-dpn'], 'E type=int'),
  i(['--data-parallel-start-rank', '-dpr'], 'E type=int'),
  i(['--data-parallel-size-local', '-dpl'], 'E type=int'),
  s(['--data-parallel-address', '-dpa'], 'E type=str'),
  i(['--data-parallel-rpc-port', '-dpp'], 'E type=int'),
  s(['--data-parallel-backend', '-dpb'], 'E type=str'),
  b('--data-parallel-hybrid-lb', 'E data_parallel_hybrid_lb: bool'),
  b('--enable-expert-parallel', 'E enable_expert_parallel: bool'),
  os_('--all2all-backend', 'E all2all_backend: str | None'),
  b('--enable-dbo', 'E enable_dbo: bool'),
  i('--dbo-decode-token-threshold', 'E dbo_decode_token_threshold: int'),
  i('--dbo-prefill-token-threshold', 'E dbo_prefill_token_threshold: int'),
  b('--disable-nccl-for-dp-synchronization', 'E disable_nccl_for_dp_synchronization: bool'),
  b('--enable-eplb', 'E enable_eplb: bool'),
  dc('--eplb-config', 'EPLBConfig', 'E eplb_config: EPLBConfig'),
  lit('--expert-placement-strategy', 'E expert_placement_strategy: ExpertPlacementStrategy'),
  i('--num-redundant-experts', 'E deprecated, type=int', { deprecated: true }),
  i('--eplb-window-size', 'E deprecated, type=int', { deprecated: true }),
  i('--eplb-step-interval', 'E deprecated, type=int', { deprecated: true }),
  b('--eplb-log-balancedness', 'E deprecated, BooleanOptionalAction', { deprecated: true }),
  oi('--max-parallel-loading-workers', 'E max_parallel_loading_workers: int | None'),
  b('--ray-workers-use-nsight', 'E ray_workers_use_nsight: bool'),
  b('--disable-custom-all-reduce', 'E disable_custom_all_reduce: bool'),
  s('--worker-cls', 'E worker_cls: str'),
  s('--worker-extension-cls', 'E worker_extension_cls: str'),
  st('--enable-multimodal-encoder-data-parallel', 'E deprecated, store_true', { deprecated: true }),
  // ---- CacheConfig (E) -----------------------------------------------------------------------------
  oi('--block-size', 'E block_size: BlockSize | None (int Literal; members unverified)', { choicesUnverified: true }),
  fl('--gpu-memory-utilization', 'E gpu_memory_utilization: float'),
  row('--kv-cache-memory-bytes', { action: 'store', type: 'human_int', optional: true, src: 'E kv_cache_memory_bytes: int | None (human_readable_int)' }),
  fl('--swap-space', 'E swap_space: float'),
  lit('--kv-cache-dtype', 'E kv_cache_dtype: CacheDType'),
  oi('--num-gpu-blocks-override', 'E num_gpu_blocks_override: int | None'),
  b('--enable-prefix-caching', 'E enable_prefix_caching: bool | None'),
  lit('--prefix-caching-hash-algo', 'E prefix_caching_hash_algo: PrefixCachingHashAlgo'),
  fl('--cpu-offload-gb', 'E cpu_offload_gb: float'),
  b('--calculate-kv-scales', 'E calculate_kv_scales: bool'),
  b('--kv-sharing-fast-prefill', 'E kv_sharing_fast_prefill: bool'),
  lit('--mamba-cache-dtype', 'E mamba_cache_dtype: MambaDType'),
  lit('--mamba-ssm-cache-dtype', 'E mamba_ssm_cache_dtype: MambaDType'),
  oi('--mamba-block-size', 'E mamba_block_size: int | None'),
  // ---- MultiModalConfig (E) ------------------------------------------------------------------------
  js('--limit-mm-per-prompt', 'E limit_mm_per_prompt: dict[str, int | dict[str, int]]'),
  b('--enable-mm-embeds', 'E enable_mm_embeds: bool'),
  js('--media-io-kwargs', 'E media_io_kwargs: dict[str, dict[str, Any]]'),
  js('--mm-processor-kwargs', 'E mm_processor_kwargs: dict[str, Any] | None', { optional: true }),
  fl('--mm-processor-cache-gb', 'E mm_processor_cache_gb: float'),
  st('--disable-mm-preprocessor-cache', 'E deprecated, store_true', { deprecated: true }),
  lit('--mm-processor-cache-type', 'E mm_processor_cache_type: MMCacheType | None', { optional: true }),
  i('--mm-shm-cache-max-object-size-mb', 'E mm_shm_cache_max_object_size_mb: int'),
  lit('--mm-encoder-tp-mode', 'E mm_encoder_tp_mode: MMEncoderTPMode'),
  os_('--mm-encoder-attn-backend', 'E mm_encoder_attn_backend: _Backend | str | None'),
  b('--interleave-mm-strings', 'E interleave_mm_strings: bool'),
  b('--skip-mm-profiling', 'E skip_mm_profiling: bool'),
  fl('--video-pruning-rate', 'E video_pruning_rate: float'),
  // ---- LoRAConfig (E) ------------------------------------------------------------------------------
  b('--enable-lora', 'E add_argument("--enable-lora", action=BooleanOptionalAction)'),
  i('--max-loras', 'E max_loras: int'),
  i('--max-lora-rank', 'E max_lora_rank: int'),
  i('--lora-extra-vocab-size', 'E lora_extra_vocab_size: int'),
  os_('--lora-dtype', 'E lora_dtype: str | torch.dtype | None'),
  oi('--max-cpu-loras', 'E max_cpu_loras: int | None'),
  b('--fully-sharded-loras', 'E fully_sharded_loras: bool'),
  js('--default-mm-loras', 'E default_mm_loras: dict[str, str] | None', { optional: true }),
  // ---- ObservabilityConfig (E) ---------------------------------------------------------------------
  os_('--show-hidden-metrics-for-version', 'E show_hidden_metrics_for_version: str | None'),
  os_('--otlp-traces-endpoint', 'E otlp_traces_endpoint: str | None'),
  os_('--collect-detailed-traces', 'E collect_detailed_traces: list[DetailedTraceModules] | None', { nargs: '+', choices: TRACE_CHOICES }),
  // ---- SchedulerConfig (E) -------------------------------------------------------------------------
  row('--max-num-batched-tokens', { action: 'store', type: 'human_int', optional: true, src: 'E max_num_batched_tokens: int | None (human_readable_int)' }),
  oi('--max-num-seqs', 'E max_num_seqs: int | None'),
  i('--max-num-partial-prefills', 'E max_num_partial_prefills: int'),
  i('--max-long-partial-prefills', 'E max_long_partial_prefills: int'),
  i('--long-prefill-token-threshold', 'E long_prefill_token_threshold: int'),
  i('--num-lookahead-slots', 'E num_lookahead_slots: int'),
  s('--scheduling-policy', 'E scheduling_policy: SchedulerPolicy', { choices: ['fcfs', 'priority'] }),
  b('--enable-chunked-prefill', 'E enable_chunked_prefill: bool | None'),
  b('--disable-chunked-mm-input', 'E disable_chunked_mm_input: bool'),
  s('--scheduler-cls', 'E scheduler_cls: str | type[object]'),
  b('--disable-hybrid-kv-cache-manager', 'E disable_hybrid_kv_cache_manager: bool'),
  b('--async-scheduling', 'E async_scheduling: bool'),
  // ---- CompilationConfig (E) -----------------------------------------------------------------------
  oi('--cudagraph-capture-sizes', 'E cudagraph_capture_sizes: list[int] | None', { nargs: '+' }),
  oi('--cuda-graph-sizes', 'E deprecated alias of cudagraph_capture_sizes', { nargs: '+', deprecated: true }),
  oi('--max-cudagraph-capture-size', 'E max_cudagraph_capture_size: int | None'),
  // ---- VllmConfig (E) ------------------------------------------------------------------------------
  js('--speculative-config', 'E speculative_config: optional_type(json.loads)', { optional: true }),
  dc('--kv-transfer-config', 'KVTransferConfig', 'E kv_transfer_config: KVTransferConfig | None', { optional: true }),
  dc('--kv-events-config', 'KVEventsConfig', 'E kv_events_config: KVEventsConfig | None', { optional: true }),
  dc(['--compilation-config', '-O'], 'CompilationConfig', 'E compilation_config: CompilationConfig'),
  js('--additional-config', 'E additional_config: dict[str, Any]'),
  dc('--structured-outputs-config', 'StructuredOutputsConfig', 'E structured_outputs_config: StructuredOutputsConfig'),
  // ---- other (E) -----------------------------------------------------------------------------------
  st('--disable-log-stats', 'E store_true'),
  st('--aggregate-engine-logging', 'E store_true'),
  b('--enable-log-requests', 'E AsyncEngineArgs BooleanOptionalAction'),
  b('--disable-log-requests', 'E AsyncEngineArgs BooleanOptionalAction (deprecated)', { deprecated: true }),
];

/**
 * `--model-loader-extra-config` keys the Run:ai loader reads (RunaiModelStreamerLoader.__init__,
 * vllm/model_executor/model_loader/runai_streamer_loader.py; docs/UPSTREAM.md V20): a key of another
 * type, and any other key, is ignored without an error.
 */
export const RUNAI_LOADER_EXTRA_KEYS = { concurrency: 'int', memory_limit: 'int', distributed: 'bool' } as const;
