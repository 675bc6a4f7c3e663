/**
 * Every ferry command, declared once: arguments, flags (type, default, description), exit codes and
 * examples. main.ts dispatches on these, each command parses its argv with them (spec.ts parseArgv),
 * and `--help`, "did you mean" and `ferry completion` are generated from them. The README's CLI
 * table is checked against this list (test/unit/cli/readme.test.ts).
 */
import { CACHE_MODES, MAX_REPLICAS, PROGRESS_DEADLINE_MAX_SECONDS, PROGRESS_DEADLINE_MIN_SECONDS } from '../domain/deploy-request.ts';
import { ACCELERATOR_TYPES } from '../domain/accelerators.ts';
import type { CommandSpec, FlagSpec } from './spec.ts';

const USAGE_IO = [2, 'usage error, or ferry could not read its input or reach a backend (credentials, network, stopped local stack)'] as const;

/** `--wait` and its `--timeout`: deploy and rollback follow the rollout they publish. */
const WAIT_FLAGS: readonly FlagSpec[] = [
  { name: 'wait', type: 'boolean', default: false, description: 'follow the rollout until it ends' },
  {
    name: 'timeout',
    type: 'int',
    min: 1,
    placeholder: 'S',
    default: 1800,
    description: 'with --wait: seconds to wait before giving up (the rollout goes on)',
  },
];

const TARGET_FLAGS: readonly FlagSpec[] = [
  {
    name: 'cluster',
    type: 'string',
    placeholder: 'C',
    defaultText: 'required',
    description: '"local" (the local stack) or a GKE cluster projects/P/locations/L/clusters/NAME',
  },
  {
    name: 'namespace',
    type: 'string',
    placeholder: 'NS',
    defaultText: 'required',
    description: 'Kubernetes namespace (a DNS-1123 label; created when missing)',
  },
  { name: 'name', type: 'string', placeholder: 'D', defaultText: 'required', description: 'name of the Deployment and Service (a DNS-1035 label)' },
];

/** Flags that set fields of the deploy request (shared by deploy and render); -f reads the rest. */
const REQUEST_FLAGS: readonly FlagSpec[] = [
  {
    name: 'filename',
    short: 'f',
    type: 'file',
    placeholder: 'FILE',
    defaultText: 'none',
    description:
      'read the deploy request (any field: cache, autoscaling, capacity, streamer, vllmArgs, sizing …) from a JSON file, or - for stdin; flags given on the command line override it. Its schema: ferry schema deploy-request',
  },
  ...TARGET_FLAGS.map((f) => ({ ...f, defaultText: 'required (here or in -f)' })),
  {
    name: 'accelerator',
    type: 'enum',
    values: ACCELERATOR_TYPES,
    placeholder: 'TYPE',
    defaultText: 'the cheapest that fits the checkpoint (see ferry plan)',
    description: 'GPU or TPU type (a GKE accelerator label value)',
  },
  { name: 'gpus', type: 'int', min: 1, max: 16, placeholder: 'N', default: 1, description: 'devices per pod, with --accelerator (GPUs, or TPU chips)' },
  { name: 'replicas', type: 'int', min: 0, max: MAX_REPLICAS, placeholder: 'N', default: 1, description: 'pods serving the model (ignored with autoscaling)' },
  {
    name: 'image',
    type: 'string',
    placeholder: 'IMAGE',
    defaultText: 'vllm/vllm-openai (GPUs) or vllm/vllm-tpu (TPUs), pinned by ferry',
    description: 'vLLM container image',
  },
  {
    name: 'tp',
    type: 'int',
    min: 1,
    max: 16,
    placeholder: 'N',
    defaultText: 'every device of the pod',
    description: 'tensor-parallel size (needs --accelerator; a power of two dividing --gpus)',
  },
  {
    name: 'progress-deadline',
    type: 'int',
    min: PROGRESS_DEADLINE_MIN_SECONDS,
    max: PROGRESS_DEADLINE_MAX_SECONDS,
    placeholder: 'S',
    defaultText: 'derived from the checkpoint size',
    description: 'seconds without progress before the rollout fails and rolls back',
  },
  {
    name: 'cache',
    type: 'enum',
    values: CACHE_MODES,
    placeholder: 'MODE',
    default: 'off',
    description: 'Anywhere Cache for the checkpoint: off, all-zones or pin-one-zone',
  },
  {
    name: 'vllm-arg',
    type: 'string',
    placeholder: 'ARG',
    repeatable: true,
    defaultText: 'none',
    description: 'an extra vLLM server argument, e.g. --vllm-arg=--max-model-len=4096',
  },
];

export const SPECS: readonly CommandSpec[] = [
  {
    name: 'validate',
    summary: 'validate a checkpoint by reading only its safetensors headers',
    synopsis: ['validate <dir | gs://bucket/prefix> [flags]'],
    description:
      'Checks a checkpoint the way vLLM will load it, from the safetensors headers alone: every rule of the reference safetensors reader per shard, plus index / shard / config consistency. Nothing is downloaded but the headers.',
    args: [{ name: '<dir | gs://bucket/prefix>', description: 'a local checkpoint folder or a GCS prefix', complete: 'dir' }],
    arity: [1, 1],
    flags: [{ name: 'concurrency', type: 'int', min: 1, max: 256, placeholder: 'N', default: 16, description: 'shard headers read in parallel' }],
    output: true,
    exitCodes: [[0, 'valid (warnings allowed)'], [1, 'invalid'], USAGE_IO],
    examples: [
      { description: 'Validate a local folder (a Hugging Face snapshot works too)', command: 'ferry validate ./llama-3-8b' },
      { description: 'Validate what is in the bucket, as JSON', command: 'ferry validate gs://my-models/models/llama-3-8b/v1 -o json' },
    ],
  },
  {
    name: 'upload',
    summary: 'upload a checkpoint directory (validated locally first; index and config.json last)',
    synopsis: ['upload <dir> gs://bucket/models/<model>/<version> [flags]'],
    description:
      'Validates the folder locally, then uploads the shards in parallel and the index and config.json last, so ferry validates the version once, when it is complete. An invalid checkpoint is not uploaded unless --force.',
    args: [
      { name: '<dir>', description: 'the checkpoint folder', complete: 'dir' },
      { name: '<gs://…/<model>/<version>>', description: 'where it goes: the models prefix of the ferry bucket, then model and version', complete: 'none' },
    ],
    arity: [2, 2],
    flags: [
      {
        name: 'force',
        type: 'boolean',
        default: false,
        description: 'upload even an invalid checkpoint (ferry marks the version invalid and never deploys it)',
      },
      { name: 'concurrency', type: 'int', min: 1, max: 64, placeholder: 'N', default: 8, description: 'files uploaded in parallel' },
      {
        name: 'progress',
        type: 'enum',
        values: ['auto', 'bar', 'lines', 'none'],
        default: 'auto',
        description:
          'progress on stderr: a live bar (on a terminal), a line per file, or none (auto: bar on a terminal, lines otherwise, none with -o json|yaml)',
      },
    ],
    output: true,
    exitCodes: [
      [0, 'uploaded'],
      [1, 'refused: the checkpoint is invalid, the folder has no *.safetensors, or a symlink is broken or leaves the folder (nothing uploaded)'],
      USAGE_IO,
    ],
    examples: [
      { description: 'Upload version v1 of llama-3-8b to the local stack', command: 'ferry upload ./llama-3-8b gs://ferry-local/models/llama-3-8b/v1' },
      {
        description: 'Upload with more parallel files, and print a JSON summary',
        command: 'ferry upload ./llama-3-8b gs://my-models/models/llama-3-8b/v2 --concurrency 16 --json',
      },
    ],
  },
  {
    name: 'verify',
    summary: 'check that the bytes are the bytes uploaded: the manifest, and with --full every byte (CRC32C, sha256)',
    synopsis: ['verify <dir | gs://bucket/prefix> [flags]'],
    description:
      "Compares the listing's sizes and CRC32Cs with ferry.manifest.json. With --full, reads every byte (parallel ranged reads for gs://) and compares each file's CRC32C and sha256 with what Cloud Storage stored, the manifest, and the sha256 a Hugging Face blob is named by.",
    args: [{ name: '<dir | gs://bucket/prefix>', description: 'a local checkpoint folder or a GCS prefix', complete: 'dir' }],
    arity: [1, 1],
    flags: [
      { name: 'full', type: 'boolean', default: false, description: 'read and hash every byte' },
      { name: 'concurrency', type: 'int', min: 1, max: 256, placeholder: 'N', default: 8, description: 'ranged reads (8 MiB each) in flight with --full' },
      {
        name: 'progress',
        type: 'enum',
        values: ['auto', 'bar', 'lines', 'none'],
        default: 'auto',
        description: 'progress of --full on stderr: bytes, rate and ETA (auto: bar on a terminal, lines otherwise, none with -o json|yaml)',
      },
    ],
    output: true,
    exitCodes: [[0, 'verified: every comparison matched'], [1, 'a mismatch (each file named)'], USAGE_IO],
    examples: [
      { description: 'Compare a version with its manifest (one listing, one small read)', command: 'ferry verify gs://my-models/models/llama-3-8b/v1' },
      {
        description: 'Read every byte of a Hugging Face snapshot and check each blob against its sha256 name',
        command: 'ferry verify ~/.cache/huggingface/hub/models--org--name/snapshots/abc123 --full',
      },
    ],
  },
  {
    name: 'plan',
    summary: 'size a checkpoint for serving: GPUs/TPU chips and tensor-parallel size per accelerator, and the cheapest',
    synopsis: ['plan <model>@<version|latest> | <dir> | gs://bucket/prefix [flags]'],
    description:
      'Sizes a checkpoint for vLLM from its safetensors headers and config.json: for each accelerator, the fewest GPUs / TPU chips (a tensor-parallel size vLLM accepts) holding the weights plus the KV cache of N concurrent sequences of the context length, and the cheapest (on-demand list prices; check them). A stored version is read from Firestore; a folder or gs:// prefix is validated first.',
    args: [{ name: '<checkpoint>', description: '<model>@<version|latest> (a stored version), a folder, or gs://bucket/prefix', complete: 'dir' }],
    arity: [1, 1],
    flags: [
      {
        name: 'context',
        type: 'int',
        min: 1,
        placeholder: 'N',
        defaultText: 'min(8192, max_position_embeddings)',
        description: 'tokens per sequence (vLLM --max-model-len)',
      },
      { name: 'concurrency', type: 'int', min: 1, placeholder: 'N', default: 8, description: 'sequences whose KV cache must fit at once' },
      { name: 'family', type: 'enum', values: ['gpu', 'tpu'], placeholder: 'F', defaultText: 'both', description: 'only gpu or only tpu accelerators' },
      { name: 'accelerator', type: 'enum', values: ACCELERATOR_TYPES, placeholder: 'TYPE', defaultText: 'none', description: 'also check this accelerator' },
      { name: 'count', type: 'int', min: 1, placeholder: 'N', default: 1, description: 'devices of --accelerator to check' },
    ],
    output: true,
    exitCodes: [[0, 'planned (and the named accelerator fits)'], [1, 'invalid checkpoint, nothing fits, or the named accelerator does not fit'], USAGE_IO],
    examples: [
      { description: 'What does the newest valid version need?', command: 'ferry plan llama-3-8b@latest' },
      {
        description: 'Does a local folder fit on 2 L4s with 16k-token sequences?',
        command: 'ferry plan ./llama-3-8b --context 16384 --accelerator nvidia-l4 --count 2',
      },
    ],
  },
  {
    name: 'status',
    summary: 'models, versions (and their validation) and rollouts',
    synopsis: ['status [<model>] [flags]'],
    description: 'Models, their versions (status, validations, parameters, findings, what is missing), recent rollouts and rejected deploy requests.',
    args: [{ name: '<model>', description: 'only this model', complete: 'none' }],
    arity: [0, 1],
    flags: [],
    output: true,
    exitCodes: [[0, 'shown'], [1, 'no model of that name'], USAGE_IO],
    examples: [
      { description: 'Everything', command: 'ferry status' },
      { description: 'One model, as YAML', command: 'ferry status llama-3-8b -o yaml' },
    ],
  },
  {
    name: 'deploy',
    summary: 'publish a deploy request; --wait follows the rollout to its end',
    synopsis: ['deploy <model>@<version|latest> --cluster C --namespace NS --name D [flags]', 'deploy -f request.json [<model>@<version>] [flags]'],
    description:
      'Publishes a deploy request (apiVersion ferry/v1) on the deploy topic, checked first against the same schema the deploy function uses. Without --accelerator, ferry picks the cheapest accelerator that fits the checkpoint (see ferry plan). With --wait, follows the rollout as it happens, phase by phase, and exits 0 only if it succeeded.',
    args: [{ name: '<model>@<version>', description: 'what to deploy; <model>@latest is the newest valid version when the rollout starts', complete: 'none' }],
    arity: [0, 1],
    flags: [
      ...REQUEST_FLAGS,
      { name: 'idempotency-key', type: 'string', placeholder: 'K', defaultText: 'none', description: 'a key that makes a repeated request a no-op' },
      ...WAIT_FLAGS,
    ],
    output: true,
    exitCodes: [
      [0, 'published (with --wait: the rollout succeeded)'],
      [1, 'with --wait: the request was rejected, or the rollout failed, rolled back or timed out'],
      [2, 'usage error or an invalid request (nothing published), or a backend could not be reached'],
    ],
    examples: [
      {
        description: 'Deploy the newest valid version to the local stack and follow the rollout',
        command: 'ferry deploy llama-3-8b@latest --cluster local --namespace ml --name llama --wait',
      },
      {
        description: 'Deploy from a request file (autoscaling, cache, …), overriding its replicas',
        command: 'ferry deploy -f request.json --replicas 2 --wait',
      },
    ],
  },
  {
    name: 'render',
    summary: 'print every manifest a deploy would apply, without applying anything',
    synopsis: ['render <model>@<version|latest> --cluster C --namespace NS --name D [flags]', 'render -f request.json [<model>@<version>] [flags]'],
    description:
      'Resolves the version (read from Firestore), sizes it exactly as a deploy does and renders the Kubernetes objects the rollout would apply, in apply order: ComputeClass, Service, Deployment, PodMonitoring, HorizontalPodAutoscaler. Nothing is published, created or changed. -o yaml prints a multi-document YAML stream, -o json a List, text a summary.',
    args: [{ name: '<model>@<version>', description: 'what would be deployed', complete: 'none' }],
    arity: [0, 1],
    flags: [...REQUEST_FLAGS],
    output: true,
    exitCodes: [[0, 'rendered'], [1, 'the deploy would be rejected (the reason is printed)'], USAGE_IO],
    examples: [
      {
        description: 'The manifests for the newest valid version, as kubectl would take them',
        command: 'ferry render llama-3-8b@latest --cluster local --namespace ml --name llama -o yaml',
      },
      { description: 'Preview a request file before publishing it', command: 'ferry render -f request.json -o json' },
    ],
  },
  {
    name: 'rollback',
    summary: 'roll a target back to its previous good version',
    synopsis: ['rollback --cluster C --namespace NS --name D [flags]'],
    description: 'Re-deploys the newest succeeded rollout of the target whose version differs from what it runs now, as a new deploy request.',
    args: [],
    arity: [0, 0],
    flags: [...TARGET_FLAGS, ...WAIT_FLAGS],
    output: true,
    exitCodes: [[0, 'published (with --wait: the rollout succeeded)'], [1, 'no previous good version, or with --wait the rollout did not succeed'], USAGE_IO],
    examples: [
      { description: 'Roll the local llama back and follow it', command: 'ferry rollback --cluster local --namespace ml --name llama --wait' },
      {
        description: 'Roll back on GKE, printing the final rollout as JSON',
        command: 'ferry rollback --cluster projects/p/locations/us-central1/clusters/gpu --namespace ml --name llama --wait -o json',
      },
    ],
  },
  {
    name: 'autodeploy',
    summary: 'deploy every newly valid version of a model to a target',
    synopsis: [
      'autodeploy <model> --cluster C --namespace NS --name D [flags]',
      'autodeploy <model> --remove --cluster C --namespace NS --name D',
      'autodeploy <model> --list',
    ],
    description:
      'When a version of <model> becomes valid, ferry publishes one deploy request per autodeploy target (requestedBy: upload). Without --accelerator each is sized from the checkpoint exactly as ferry deploy is. Invalid versions are never deployed.',
    args: [{ name: '<model>', description: 'the model whose new versions are deployed', complete: 'none' }],
    arity: [1, 1],
    flags: [
      ...TARGET_FLAGS,
      {
        name: 'accelerator',
        type: 'enum',
        values: ACCELERATOR_TYPES,
        placeholder: 'TYPE',
        defaultText: 'the cheapest that fits each version',
        description: 'GPU or TPU type',
      },
      { name: 'gpus', type: 'int', min: 1, max: 16, placeholder: 'N', default: 1, description: 'devices per pod, with --accelerator' },
      {
        name: 'replicas',
        type: 'int',
        min: 0,
        max: MAX_REPLICAS,
        placeholder: 'N',
        defaultText: "the deploy request's default (1)",
        description: 'pods serving the model',
      },
      {
        name: 'gate',
        type: 'file',
        placeholder: 'FILE',
        defaultText: "the model's default gate (ferry gate set), if any",
        description: 'a promotion gate (JSON, docs/gate.md; - for stdin) put on each deploy request the target publishes',
      },
      { name: 'remove', type: 'boolean', default: false, description: 'remove the target instead of setting it' },
      { name: 'list', type: 'boolean', default: false, description: "list the model's autodeploy targets" },
    ],
    output: true,
    exitCodes: [[0, 'done'], [1, 'nothing to remove'], USAGE_IO],
    examples: [
      {
        description: 'Deploy every new valid version of llama-3-8b to the local stack, sized from each checkpoint',
        command: 'ferry autodeploy llama-3-8b --cluster local --namespace ml --name llama',
      },
      { description: 'List the targets', command: 'ferry autodeploy llama-3-8b --list' },
    ],
  },
  {
    name: 'caches',
    summary: 'Anywhere Caches: state, TTL, who created them, which targets rely on them, last use',
    synopsis: ['caches [flags]'],
    description:
      'The Anywhere Caches ferry tracks, merged with what the Storage Control API shows now for the same buckets; caches ferry does not track are listed as such.',
    args: [],
    arity: [0, 0],
    flags: [
      { name: 'bucket', type: 'string', placeholder: 'B', defaultText: 'every bucket ferry knows', description: 'only this bucket' },
      { name: 'no-live', type: 'boolean', default: false, description: "show ferry's records only (do not ask the Storage Control API)" },
    ],
    output: true,
    exitCodes: [[0, 'shown'], USAGE_IO],
    examples: [
      { description: 'All caches', command: 'ferry caches' },
      { description: "One bucket, from ferry's records only, as JSON", command: 'ferry caches --bucket my-models --no-live -o json' },
    ],
  },
  {
    name: 'teardown',
    summary: 'plan (and without --dry-run, carry out) the teardown of idle caches and managed clusters',
    synopsis: ['teardown [flags]'],
    description:
      'Plans the teardown of idle Anywhere Caches, Deployments (when the policy scales them) and managed clusters, with a reason per action and per resource left alone. Without --dry-run it carries the plan out; on a terminal it shows the plan first and asks before acting (--yes skips the question; without a terminal --yes is required). The policy comes from the FERRY_TEARDOWN_* variables.',
    args: [],
    arity: [0, 0],
    flags: [
      { name: 'dry-run', type: 'boolean', default: false, description: 'only plan; change nothing' },
      { name: 'yes', short: 'y', type: 'boolean', default: false, description: 'carry the plan out without asking' },
    ],
    output: true,
    exitCodes: [
      [0, 'planned / carried out (or declined at the prompt)'],
      [1, 'an action failed'],
      [2, 'usage error, no --yes without a terminal, or a backend could not be reached'],
    ],
    examples: [
      { description: 'What would be torn down, and why everything else stays', command: 'ferry teardown --dry-run' },
      { description: 'Carry it out without a prompt (scripts, CI)', command: 'ferry teardown --yes --json' },
    ],
  },
  {
    name: 'migrate',
    summary: 'move Firestore documents stored under an older key spelling to the current one (idempotent)',
    synopsis: ['migrate [flags]'],
    description:
      'Moves documents an older ferry stored under another spelling of a key (validation claims listing autodeploy targets as cluster|namespace|name; scaledDownClusters records named P~L~C; scaledDownClusters records of schema version 1, which held pool totals, as version 2) to the one ferry uses now. Idempotent: run it after deploying a new ferry; a second run reports nothing to do. A document it cannot migrate is left as it is and named.',
    args: [],
    arity: [0, 0],
    flags: [{ name: 'dry-run', type: 'boolean', default: false, description: 'read and report what would change; write nothing' }],
    output: true,
    exitCodes: [[0, 'migrated (or nothing to do)'], [1, 'a document could not be migrated (named on stderr)'], USAGE_IO],
    examples: [
      { description: 'See what would change', command: 'ferry migrate --dry-run' },
      { description: 'Migrate, and print the report as JSON', command: 'ferry migrate -o json' },
    ],
  },
  {
    name: 'policy',
    summary: 'show or change the deploy policy (who may deploy what, where)',
    synopsis: ['policy show [flags]', 'policy set -f FILE [flags]', 'policy history [flags]'],
    description:
      'The deploy policy every deploy request is checked against before it is admitted (docs/policy.md): targets, image repositories, vLLM flags, limits and grants. `show` prints the current version; `set` checks a new document strictly, prints the diff and stores it as the next version with an audit record (who, when, the diff); `history` lists the audit records. With no policy set, every deploy is refused (POLICY_MISSING).',
    args: [{ name: 'show|set|history', description: 'what to do', complete: ['show', 'set', 'history'] }],
    arity: [1, 1],
    flags: [
      {
        name: 'filename',
        short: 'f',
        type: 'file',
        placeholder: 'FILE',
        defaultText: 'required for set',
        description: 'the policy document (JSON), or - for stdin',
      },
      { name: 'dry-run', type: 'boolean', default: false, description: 'set: check the document and print the diff; store nothing' },
      { name: 'limit', type: 'int', default: 10, min: 1, max: 1000, description: 'history: how many versions to list' },
    ],
    output: true,
    exitCodes: [
      [0, 'shown, stored, or unchanged'],
      [1, 'no policy to show, or the document is invalid (each problem named), or another change won the race'],
      USAGE_IO,
    ],
    examples: [
      { description: 'See what may be deployed where', command: 'ferry policy show' },
      { description: 'Check a change and see its diff', command: 'ferry policy set -f policy.json --dry-run' },
      { description: 'Store it as the next version', command: 'ferry policy set -f policy.json' },
    ],
  },
  {
    name: 'gate',
    summary: "show, set or clear a model's default promotion gate (golden prompts every rollout must answer right)",
    synopsis: ['gate show <model> [flags]', 'gate set <model> -f FILE [--dry-run] [flags]', 'gate clear <model> [flags]'],
    description:
      "A model's default promotion gate (docs/gate.md): golden prompts the new pods of every rollout of the model must answer right before the rollout succeeds, when its deploy request carries no `gate` of its own. `set` checks the file strictly, naming every problem by its path (INVALID_GATE), before any backend is asked, then stores it (Firestore models/<model>/settings/gate) and prints what was stored; `show` prints it; `clear` removes it.",
    args: [
      { name: 'show|set|clear', description: 'what to do', complete: ['show', 'set', 'clear'] },
      { name: '<model>', description: 'the model whose default gate it is', complete: 'none' },
    ],
    arity: [2, 2],
    flags: [
      {
        name: 'filename',
        short: 'f',
        type: 'file',
        placeholder: 'FILE',
        defaultText: 'required for set',
        description: 'the gate (JSON, docs/gate.md), or - for stdin',
      },
      { name: 'dry-run', type: 'boolean', default: false, description: 'set: check the gate and print it; store nothing (needs no backend)' },
    ],
    output: true,
    exitCodes: [[0, 'shown, stored, checked (--dry-run) or cleared'], [1, 'the gate file is not JSON or not a valid gate (each problem named)'], USAGE_IO],
    examples: [
      { description: 'Check a gate file without storing it', command: 'ferry gate set my-model -f gate.json --dry-run' },
      { description: 'Gate every rollout of the model', command: 'ferry gate set my-model -f gate.json' },
      { description: 'See the stored gate as JSON', command: 'ferry gate show my-model --json' },
      { description: 'Stop gating the model by default', command: 'ferry gate clear my-model' },
    ],
  },
  {
    name: 'schema',
    summary: 'print the JSON Schema of a message ferry accepts (deploy-request), of the deploy policy (policy) or of a promotion gate (gate)',
    synopsis: ['schema deploy-request|policy|gate [flags]'],
    description:
      'Prints the JSON Schema (draft 2020-12) generated from the zod schema ferry validates deploy requests with, for systems that publish deploy messages. The same schema is committed at schemas/deploy-request.schema.json.',
    args: [{ name: 'deploy-request|policy|gate', description: 'the schema to print', complete: ['deploy-request', 'policy', 'gate'] }],
    arity: [1, 1],
    flags: [],
    output: true,
    exitCodes: [
      [0, 'printed'],
      [2, 'usage error (unknown schema)'],
    ],
    examples: [
      { description: 'Print the deploy request schema', command: 'ferry schema deploy-request' },
      { description: 'Save it for another system', command: 'ferry schema deploy-request > deploy-request.schema.json' },
    ],
  },
  {
    name: 'completion',
    summary: 'print a shell completion script (bash or zsh)',
    synopsis: ['completion bash|zsh'],
    description: 'Prints a completion script for commands, flags and flag values, generated from the same specs as this help.',
    args: [{ name: 'bash|zsh', description: 'the shell', complete: ['bash', 'zsh'] }],
    arity: [1, 1],
    flags: [],
    exitCodes: [
      [0, 'printed'],
      [2, 'usage error (unknown shell)'],
    ],
    examples: [
      { description: 'Enable completion in the current bash', command: 'source <(npx ferry completion bash)' },
      { description: 'Enable it for zsh in every shell', command: "echo 'source <(npx ferry completion zsh)' >> ~/.zshrc" },
    ],
  },
  {
    name: 'help',
    summary: "a command's flags, defaults, exit codes and examples",
    synopsis: ['help [<command>]'],
    description: 'The same text as ferry <command> --help; without a command, the list of commands.',
    args: [
      {
        name: '<command>',
        description: 'a ferry command',
        complete: ['validate', 'upload', 'plan', 'status', 'deploy', 'render', 'rollback', 'autodeploy', 'caches', 'teardown', 'schema', 'completion', 'help'],
      },
    ],
    arity: [0, 1],
    flags: [],
    exitCodes: [
      [0, 'printed'],
      [2, 'unknown command'],
    ],
    examples: [
      { description: 'Every command', command: 'ferry help' },
      { description: "deploy's flags", command: 'ferry help deploy' },
    ],
  },
];

export const SPEC_BY_NAME: ReadonlyMap<string, CommandSpec> = new Map(SPECS.map((s) => [s.name, s]));

export function specOf(name: string): CommandSpec {
  const s = SPEC_BY_NAME.get(name);
  if (!s) throw new Error(`no spec for ${name}`);
  return s;
}
