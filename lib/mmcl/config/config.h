#pragma once
// The typed configuration of a run. This is the only place that knows the keys; components receive
// their own struct. Defaults live in the member initialisers below and are documented (with every
// key) in docs/CONFIG.md, which `mmcl list --keys` regenerates.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mmcl/core/choices.h"

namespace mmcl::config {

struct RunSection {
  std::string name;              // empty: a timestamp
  std::string output_dir = "runs";
  int64_t seed = 0;
};

struct RuntimeConfig {
  DeviceChoice device = DeviceChoice::automatic;  // cpu | cuda | auto
  int64_t threads = 0;           // 0: every core
  PrecisionMode precision = PrecisionMode::fp32;  // fp32 | bf16 | fp16 | amp_bf16 | amp_fp16 (open_clip's meanings)
};

struct VisionConfig {
  VisionTower tower = VisionTower::vit;  // a ViT, or CLIP's ModifiedResNet (open_clip's RN50 ...)
  int64_t image_size = 224;
  int64_t patch_size = 32;               // vit
  int64_t width = 768;                   // vit: the transformer's; resnet: the stem's (64 in RN50)
  int64_t layers = 12;                   // vit
  std::array<int64_t, 4> resnet_layers = {3, 4, 6, 3};  // resnet: Bottleneck blocks per stage (RN50's)
  int64_t head_width = 64;               // attention head width (resnet: of the attention pool)
  double mlp_ratio = 4.0;                // vit
  bool small_stem = false;               // resnet18..101: a 3x3 stride-1 stem without max-pool (SimCLR's CIFAR variant)
};

struct TextConfig {
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  int64_t width = 512;
  int64_t heads = 8;
  int64_t layers = 12;
  double mlp_ratio = 4.0;
};

// FDT (Chen et al., CVPR 2023): a bank of learned tokens shared by both modalities; each sample's
// embedding is the weighted sum of the tokens its patches or words are most relevant to.
struct FdtConfig {
  int64_t tokens = 16384;              // C, tokens in the shared bank
  int64_t dim = 512;                   // d, token dimension (the embedding dimension of an FDT model)
  TokenWeighting weighting = TokenWeighting::sparsemax;
  double temperature = 1000;           // tau_fdt: relevances are <q, c> / sqrt(d) / tau_fdt
  TokenPooling pooling = TokenPooling::max;  // over a sample's patches or words, per token
};

// The video tower (CVRL): a 3D ResNet over clips of `frames` frames of size x size pixels.
struct VideoModelConfig {
  VideoBackbone backbone = VideoBackbone::r3d18;
  int64_t width = 64;              // channels of the first stage (64 in R3D; smaller for CPU runs)
  int64_t frames = 16;
  int64_t size = 112;
};

// An MLP projection head (CVRL's, SimCLR's): hidden_layers x (Linear, BatchNorm, ReLU), then a Linear to dim.
struct ProjectionConfig {
  int64_t hidden = 2048;      // 0: the backbone's feature width
  int64_t dim = 128;
  int64_t hidden_layers = 3;
};

// VATT's text tower. t5: the official code's T5 encoder (pre-norm blocks, RMS norm before attention and
// LayerNorm before the MLP, q/k/v/o without biases, no 1/sqrt(d) scaling, a learned relative position
// bias shared by all layers, a final RMS norm; no absolute positions). backbone: the same pre-LN
// transformer as the other modalities, of their width and depth, with learned positions.
struct VattTextConfig {
  VattTextTower tower = VattTextTower::automatic;
  int64_t width = 512;                 // t5: T5-small's
  int64_t layers = 6;
  int64_t heads = 8;
  double mlp_ratio = 4.0;
  int64_t relative_buckets = 32;       // t5: relative position buckets (half per direction)
  int64_t relative_max_distance = 64;  // t5: distances from this on share the last bucket
  int64_t embedding_dim = 0;           // word vectors of this size, then Linear (no bias) + GELU to the width; 0: the width
  std::string embeddings;              // word2vec file (text or binary) initialising the word vectors
  bool freeze_embeddings = false;      // keep the word vectors fixed (the paper's frozen word2vec)
};

// VATT (Akbari et al., NeurIPS 2021): transformers over video patches, raw-audio patches and words, with
// DropToken; video and audio meet in a va_dim space, video (through ReLU -> Linear -> BatchNorm) and
// text in a vt_dim space. Clip frames and size come from `video`, the word context from `text`.
struct VattConfig {
  VattBackbone backbone = VattBackbone::specific;  // a transformer per modality | one shared (VATT-MA)
  int64_t width = 768;                        // d, every transformer's width
  int64_t layers = 12;
  int64_t heads = 12;
  double mlp_ratio = 4.0;
  std::array<int64_t, 3> video_patch = {4, 16, 16};  // t x h x w voxels per video token
  int64_t audio_patch = 128;                  // waveform samples per audio token
  int64_t audio_samples = 51200;              // the waveform window: 3.2 s at 16 kHz (a multiple of audio_patch)
  int64_t audio_rate = 16000;                 // Hz, the waveform is resampled to
  double video_droptoken = 0.5;               // fraction of video tokens dropped while training
  double audio_droptoken = 0.5;
  int64_t va_dim = 512;
  int64_t vt_dim = 256;
  double dropout = 0.0;                       // after attention and MLP in the transformers, while training (VATT's 0.1)
  VattTextConfig text;
};

struct ModelConfig {
  std::string preset;            // a name from configs/models/ or a path to a preset YAML
  std::string base;              // a CLIP preset applied before `preset` (the towers of an FDT model)
  std::string name = "clip";
  std::string pretrained;        // weights to start from (.safetensors or torch.save state dict)
  int64_t embed_dim = 512;
  bool quick_gelu = false;
  double init_logit_scale = 2.6592600369327779;  // ln(1/0.07)
  double max_logit_scale = 4.6051701859880914;   // ln(100)
  double min_logit_scale = 0;                    // the log scale's lower clamp (FDT's official 3: a scale of e^3)
  bool logit_bias = false;       // a learnable bias added to the logits (SigLIP's; open_clip's init_logit_bias)
  double init_logit_bias = -10;  // its start (SigLIP's -10)
  bool lock_image = false;       // pretraining: the image tower frozen (LiT; open_clip's --lock-image)
  int64_t lock_image_unlocked_groups = 0;  // lock_image: this many of the tower's last layer groups still train
  VisionConfig vision;
  TextConfig text;
  FdtConfig fdt;
  VideoModelConfig video;
  ProjectionConfig cvrl;                    // CVRL's head
  ProjectionConfig simclr{0, 128, 1};       // SimCLR's: Linear(F, F), BatchNorm, ReLU, Linear(F, 128)
  VattConfig vatt;
};

struct LossConfig {
  std::string name = "infonce";
  bool local_loss = false;        // with several processes: each computes only its own rows of the logits
  bool gather_with_grad = false;  // with several processes: gradients flow back through the gathered features
  double temperature = 0;         // ntxent and vatt's fixed temperature; 0: the method's (0.1 ntxent, 0.07 vatt)
  double mil_weight = 1.0;        // vatt: L = NCE(video, audio) + mil_weight * MIL-NCE(video, its captions)
  bool asymmetric_nce = false;    // vatt: NCE(video, audio) with one log-sum-exp over both directions (the official code's)
  bool normalize_weights = false; // vatt: L divided by the sum of the terms' weights (1 + mil_weight), as the official code
};

struct SyntheticDataConfig {
  int64_t size = 1024;
};

struct WebDatasetConfig {
  bool index = false;      // index every shard's members at start-up (random access) instead of streaming them
  bool resampled = false;  // streaming: each loader stream draws shards with replacement (open_clip's --dataset-resampled)
};

struct ImageAugmentConfig {
  std::array<double, 2> scale = {0.9, 1.0};  // RandomResizedCrop area fraction (open_clip's default)
  bool flip = false;
  std::array<double, 3> mean = {0.48145466, 0.4578275, 0.40821073};  // CLIP's normalisation
  std::array<double, 3> std = {0.26862954, 0.26130258, 0.27577711};
  int64_t max_pixels = 100'000'000;  // larger images are refused from their header (decompression bombs)
  bool reduced_decode = false;       // training: JPEGs decoded at the smallest DCT scale the crop allows
  // Colour augmentation at training (SimCLR's, MoCo v2's), after the crop: torchvision's ColorJitter
  // (brightness, contrast, saturation, hue; a random order) with probability jitter_prob, RandomGrayscale,
  // a Gaussian blur of sigma in blur_sigma, solarisation. All off by default (open_clip's).
  double jitter_prob = 0;
  std::array<double, 4> jitter = {0.4, 0.4, 0.4, 0.1};
  double grayscale_prob = 0;
  double blur_prob = 0;
  std::array<double, 2> blur_sigma = {0.1, 2.0};
  double solarize_prob = 0;
};

// Video clips and CVRL's augmentations (data.video).
struct VideoDataConfig {
  int64_t stride = 2;                    // decoded frames between the frames of a clip
  ClipInterval interval = ClipInterval::decreasing;  // CVRL's temporal interval between two views
  bool spatial = true;                   // random resized crop, flip, colour jitter, grayscale (training)
  bool consistent = true;                // the same spatial parameters for every frame of a clip
  std::array<double, 2> crop_scale = {0.3, 1.0};
  std::array<double, 2> crop_ratio = {3.0 / 4.0, 4.0 / 3.0};  // aspect ratio range of the random crop
  int64_t decode_size = 0;               // frames decoded at this shorter side, cropped, then scaled (0: the model's size)
  double jitter_prob = 0.8;
  double jitter_strength = 1.0;          // brightness/contrast/saturation 0.4 s, hue 0.1 s
  bool jitter_random_order = false;      // the four adjustments in a random order (SimCLR's, CVRL's)
  double grayscale_prob = 0.2;
  double blur_prob = 0.0;
  double solarize_prob = 0.0;
  double blur_prob_view2 = -1;           // the second view's (CVRL: 1.0 then 0.1); < 0: blur_prob
  double solarize_prob_view2 = -1;       // (CVRL: 0 then 0.2); < 0: solarize_prob
  double fps = 0;                        // > 0: frames sampled at this rate (stride ignored), the audio window the same seconds
  double audio_noise = 0.0;              // training: Gaussian noise of this std added to the waveform (VATT's 0.01)
  double time_budget_s = 10;             // a clip that takes longer to decode is skipped
};

struct DataConfig {
  std::string type = "synthetic";
  std::string train;                 // manifest path (manifest) or shard pattern (webdataset)
  std::string val;                   // held-out data in train's format: eval.during val_loss
  std::string image_key = "filepath";
  std::string caption_key = "title";
  std::string separator;             // "" : tab for .tsv, else comma
  std::string root;                  // base of relative image paths; "": the manifest's folder
  int64_t batch_size = 32;
  int64_t workers = 2;
  int64_t prefetch = 2;
  int64_t shuffle_buffer = 2000;     // webdataset: samples in the shuffle buffer
  int64_t samples_per_epoch = 0;     // webdataset streaming: the epoch's length; 0: from stats files or a count
  int64_t views = 0;                 // augmented views per sample; 0: the model's (2 for cvrl and simclr)
  int64_t max_captions = 4;          // video with captions: up to this many captions of a sample (MIL-NCE's positives)
  ImageAugmentConfig image;
  VideoDataConfig video;
  SyntheticDataConfig synthetic;
  WebDatasetConfig webdataset;
};


struct OptimConfig {
  OptimizerKind name = OptimizerKind::adamw;
  double lr = 5e-4;
  double weight_decay = 0.2;
  std::array<double, 2> betas = {0.9, 0.98};
  double eps = 1e-6;
  LrSchedule schedule = LrSchedule::cosine;
  int64_t warmup_steps = 0;
  double min_lr = 0.0;
  double grad_clip = 0.0;           // max global L2 norm; 0 disables clipping
  int64_t accum_steps = 1;
  bool fused = true;                 // one fused ATen AdamW kernel per parameter group
  double momentum = 0.9;             // sgd, lars
  bool nesterov = false;             // sgd, lars
  double lars_eta = 0.001;           // lars: the trust coefficient
};

struct TokenizerConfig {
  TokenizerKind name = TokenizerKind::clip_bpe;
  std::string vocab;                 // clip_bpe: the bpe_simple_vocab_16e6.txt.gz file
  int64_t max_words = 8192;          // words: vocabulary learned from the training captions
  int64_t min_count = 1;
};

// How linear-probe fits its classifier.
struct ProbeConfig {
  ProbeMethod method = ProbeMethod::logistic;  // L-BFGS on fixed features | SGD on features of augmented inputs
  int64_t epochs = 10;                          // sgd
  double lr = 0.1;                              // sgd: peak learning rate (momentum 0.9, cosine to 0)
  double weight_decay = 0.0;                    // sgd
  bool augment = true;                          // sgd: each epoch embeds freshly cropped and flipped inputs
};

struct EvalConfig {
  std::string checkpoint;            // the checkpoint to evaluate
  std::string data;                  // manifest of the evaluation (test) set
  std::string train;                 // linear probe: labelled training manifest
  std::string val;                   // linear probe: labelled validation manifest ("": 20% of train)
  std::string image_key = "filepath";
  std::string caption_key = "title";
  std::string label_key = "label";
  std::vector<std::string> classnames;  // zero-shot class names; empty: the manifest's label names
  std::vector<std::string> templates = {"a photo of a {}."};
  int64_t batch_size = 256;
  bool export_embeddings = false;    // retrieve: also write the embeddings (embeddings.safetensors)
  EvalModality modality = EvalModality::automatic;  // what eval files hold (auto: the model's input)
  RetrievalTarget retrieval = RetrievalTarget::text;  // retrieve: captions (text) or the soundtrack (audio)
  std::array<int64_t, 2> views = {1, 1};  // video: clips x crops per test sample, averaged; audio: windows x 1
  bool multi_label = false;               // each sample has a set of labels (AudioSet): mAP, AUC and d-prime
  std::string label_separator = ",";      // multi_label: between the labels of a CSV/TSV cell or JSON string
  ProbeConfig probe;
  int64_t every = 0;                      // pretrain: evaluate every N steps and at the end (0: never)
  std::vector<std::string> during;        // what: zeroshot, retrieval, val_loss
};

struct FinetuneConfig {
  FinetuneMode mode = FinetuneMode::full;  // linear: the input tower frozen
  double label_smoothing = 0.0;
};

struct TrainConfig {
  int64_t steps = 0;                // 0: epochs × steps per epoch
  int64_t epochs = 1;
  int64_t stop_after = 0;           // stop this invocation after N steps (0: run to the end)
  int64_t log_every = 10;
  int64_t checkpoint_every = 0;     // 0: only at the end (and when interrupted)
  int64_t keep_checkpoints = 3;
  std::string keep_best;            // pretrain: keep checkpoints/best.pt by this eval.during metric ("": none)
  bool requeue = true;              // under SLURM, a SIGUSR1 stop requeues the job after its checkpoint
};

// Several processes training one model (c10d). The launcher's environment (torchrun, then SLURM)
// wins over these keys.
struct DistConfig {
  int64_t world_size = 1;
  int64_t rank = 0;
  int64_t local_rank = -1;               // -1: the rank
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  BackendChoice backend = BackendChoice::automatic;
  double timeout_s = 300;                // rendezvous and every collective
  double bucket_mb = 25;                 // gradient all-reduce bucket size
  bool sync_bn = false;                  // BatchNorm statistics over every process's batch
};

struct RunConfig {
  RunSection run;
  RuntimeConfig runtime;
  ModelConfig model;
  LossConfig loss;
  DataConfig data;
  TokenizerConfig tokenizer;
  OptimConfig optim;
  TrainConfig train;
  DistConfig dist;
  FinetuneConfig finetune;
  EvalConfig eval;
};

}  // namespace mmcl::config
