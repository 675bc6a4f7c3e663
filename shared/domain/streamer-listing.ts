/**
 * Which `*.safetensors` files the pinned vLLM images stream from a `gs://` checkpoint (pure).
 *
 * ferry's verdict on a checkpoint is about what vLLM's Run:ai loader will load, not about what the
 * safetensors library or transformers would do with the same folder (test/fixtures/safetensors holds
 * those reference verdicts). On the `--load-format=runai_streamer` + `gs://` path vLLM streams every
 * file the streamer's `list_safetensors` returns, and applies no index filter (docs/UPSTREAM.md V1, V2):
 *   vllm-project/vllm runai_streamer_loader.py `_prepare_weights`: `hf_weights_files =
 *   list_safetensors(path=hf_folder)`; runai-model-streamer
 *   py/runai_model_streamer/runai_model_streamer/safetensors_streamer/safetensors_streamer.py#L26-31:
 *   `list_safetensors(gs://…)` = `gcs_glob(path, ["*.safetensors"])`.
 * How the streamer lists GCS depends on its version (docs/UPSTREAM.md V3):
 *   0.14.0–0.15.3 — recursive: runai-model-streamer@0.15.3:py/runai_model_streamer_gcs/
 *     runai_model_streamer_gcs/files/files.py#L60 `bucket.list_blobs(prefix=prefix)` (no delimiter),
 *     #L72-76 `fnmatch.fnmatch(path, "*.safetensors")` on the whole object name, so `sub/x.safetensors`
 *     matches too;
 *   0.15.4 and later — top level only: runai-model-streamer@0.15.4:…/files.py#L68-72
 *     `bucket.list_blobs(prefix=prefix, delimiter='/')` (commit e63ba27 "Fix list_safetensors").
 * Both filters are case-sensitive (fnmatch on POSIX), like `isSafetensors`.
 */
import { isSafetensors, isTopLevel } from './checkpoint.ts';
import { DEFAULT_IMAGE, DEFAULT_TPU_IMAGE } from './rendered-spec.ts';

export type StreamerListing = 'recursive' | 'top-level';

export interface PinnedStreamer {
  /** The image ferry renders by default for this variant. */
  image: string;
  /** The Run:ai Model Streamer release(s) that image carries, and how sure we are. */
  streamer: string;
  listing: StreamerListing;
  /** Where the version comes from. */
  source: string;
}

/**
 * The rule each image variant's validation is for. Change these together with DEFAULT_IMAGE /
 * DEFAULT_TPU_IMAGE (test/unit/domain/streamer-listing.test.ts holds the pairing).
 */
export const PINNED_STREAMERS = {
  gpu: {
    image: DEFAULT_IMAGE,
    streamer: '0.14.0–0.15.3 (inferred: vLLM v0.11.2 was released before streamer 0.15.4 existed, 2026-01-13)',
    listing: 'recursive',
    source:
      'vLLM requires the streamer with a lower bound only (setup.py extra `runai`: `runai-model-streamer[s3,gcs] >= 0.15.0` in a stored late-2025 revision, later `>= 0.15.3`), so the image holds the newest release at build time; v0.11.2 (November 2025) predates 0.15.4 (tag e63ba27, 2026-01-13). Not read at the v0.11.2 tag. docs/UPSTREAM.md V3, V12, M7.',
  },
  tpu: {
    image: DEFAULT_TPU_IMAGE,
    streamer: '0.15.4',
    listing: 'top-level',
    source: 'vllm-project/tpu-inference@v0.18.0:requirements.txt#L19 `runai-model-streamer[s3,gcs]==0.15.4`. docs/UPSTREAM.md V4.',
  },
} as const satisfies Record<'gpu' | 'tpu', PinnedStreamer>;

export type ImageVariant = keyof typeof PINNED_STREAMERS;
export const IMAGE_VARIANTS = Object.keys(PINNED_STREAMERS) as ImageVariant[];

/** The `*.safetensors` names (relative to the checkpoint prefix) a streamer with this listing returns. */
export function streamedSafetensors(names: readonly string[], listing: StreamerListing): string[] {
  return names.filter((n) => isSafetensors(n) && (listing === 'recursive' || isTopLevel(n)));
}

/** "vllm/vllm-openai:v0.11.2 (Run:ai streamer 0.14.0–0.15.3, recursive listing)", for messages. */
export function describeStreamer(variant: ImageVariant): string {
  const p = PINNED_STREAMERS[variant];
  const version = p.streamer.split(' ')[0];
  return `${p.image} (Run:ai streamer ${version}, ${p.listing === 'recursive' ? 'lists sub-folders too' : 'lists the top level only'})`;
}
