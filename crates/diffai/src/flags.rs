//! Command-line flags. Each flag is documented where it is declared; `--help` shows these texts.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, CommandFactory, Parser, Subcommand, ValueEnum};
use diffai_core::analysis::ANALYSES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Semantic diff for AI/ML artifacts: which tensors were added, removed, reshaped, re-typed or
/// changed, and by how much.
///
/// Exit status: 0 no differences, 1 differences found, 2 error (unreadable or malformed input,
/// bad usage).
#[derive(Debug, Parser)]
#[command(
    name = "diffai",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  diffai model_v1.safetensors model_v2.safetensors\n  diffai old/ new/            (directories holding model.safetensors.index.json)\n  diffai runs/a/ runs/b/ -r --include \"*.json\" --include \"*.pt\"\n  diffai a.safetensors b.safetensors -o json | jq .summary\n  diffai --similarity-matrix ckpt1.pt ckpt2.pt ckpt3.pt   (or a directory of checkpoints)\n  diffai inspect model.safetensors"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The old artifact: a file, or a sharded model (its index file or the directory holding it).
    #[arg(required = true)]
    pub old: Option<PathBuf>,

    /// The new artifact. With --similarity-matrix it may be left out when OLD is a directory of
    /// checkpoints: every model file in it is compared with every other.
    pub new: Option<PathBuf>,

    /// Further models, with --similarity-matrix only: the model x model matrix of cosines.
    #[arg(value_name = "MORE")]
    pub more: Vec<PathBuf>,

    #[command(flatten)]
    pub common: Common,

    #[command(flatten)]
    pub diff: DiffFlags,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show one artifact's tree with per-tensor statistics (usable as a git textconv driver).
    Inspect {
        /// The artifact to inspect.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

/// Flags shared by the diff and `inspect`.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Force the input format instead of detecting it (magic bytes, then file extension):
    /// safetensors, safetensors-sharded, pytorch, npy, npz, matlab, json, yaml, toml, xml, ini, csv.
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    pub format: Option<String>,

    /// Output format: text (alias cli), json, yaml, markdown (alias md: a pull-request comment) or
    /// html (one self-contained page).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "OUTPUT",
        default_value = "text"
    )]
    pub output: String,

    /// Same as -o markdown.
    #[arg(long = "markdown-output", conflicts_with = "output")]
    pub markdown_output: bool,

    /// Start with a short plain-language summary for a reviewer: what changed, how much, anything
    /// alarming (text, markdown, html).
    #[arg(long = "review-friendly")]
    pub review_friendly: bool,

    /// Charts in the HTML report (per-layer change bars, histograms, the similarity heatmap, size
    /// bars); also runs --show-layer-impact, --show-distribution and --similarity-matrix, whose
    /// results the charts draw.
    #[arg(long = "include-charts")]
    pub include_charts: bool,

    /// Never colour the output (same as --color never).
    #[arg(long = "no-color")]
    pub no_color: bool,

    /// When to colour text output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long = "color", value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,

    /// Worker threads for the statistics (default: one per core).
    #[arg(long = "threads", value_name = "N")]
    pub threads: Option<usize>,
}

/// Flags of the diff itself.
#[derive(Debug, Args)]
pub struct DiffFlags {
    /// Also write a self-contained HTML report to FILE (default diffai-report.html); stdout keeps
    /// the -o format.
    #[arg(long = "generate-report", value_name = "FILE", num_args = 0..=1, default_missing_value = "diffai-report.html")]
    pub generate_report: Option<PathBuf>,

    /// Compare two directories file by file: files pair by relative path, each pair is read with
    /// its own format; files on one side only are listed as added (+) or removed (-).
    #[arg(short = 'r', long = "recursive")]
    pub recursive: bool,

    /// With --recursive: compare only files whose relative path matches this glob (repeatable;
    /// `*` also matches `/`, so "*.json" matches json files at any depth).
    #[arg(long = "include", value_name = "GLOB", requires = "recursive")]
    pub include: Vec<String>,

    /// With --recursive: skip files whose relative path matches this glob (repeatable).
    #[arg(long = "exclude", value_name = "GLOB", requires = "recursive")]
    pub exclude: Vec<String>,

    /// Print nothing; report only through the exit status.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Print one line saying whether the inputs differ, with the counts of each kind of change.
    #[arg(long = "brief")]
    pub brief: bool,

    /// Print diagnostics to stderr: configuration, detected formats, sizes, timing, counts.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Show per-tensor statistics (mean and std old->new). On by default; kept for the documented
    /// command lines.
    #[arg(long = "stats")]
    pub stats: bool,

    /// Show every statistic and pairwise metric for every tensor, unchanged ones included.
    #[arg(long = "tensor-details")]
    pub tensor_details: bool,

    /// Show only what changed (the default view; overrides --tensor-details' listing of
    /// unchanged tensors).
    #[arg(long = "diff-only")]
    pub diff_only: bool,

    /// Order changed tensors by relative L2 change, largest first (added, removed, reshaped and
    /// re-typed entries first).
    #[arg(long = "sort-by-change-magnitude")]
    pub sort_by_change_magnitude: bool,

    /// Compare only this subtree of the old input (e.g. `model_state_dict` of a checkpoint).
    #[arg(long = "old-root", value_name = "PATH")]
    pub old_root: Option<String>,

    /// Compare only this subtree of the new input.
    #[arg(long = "new-root", value_name = "PATH")]
    pub new_root: Option<String>,

    /// Keep only paths matching this regular expression.
    #[arg(long = "filter", value_name = "REGEX")]
    pub filter: Option<String>,

    /// Keep only paths containing this text.
    #[arg(long = "path", value_name = "SUBSTRING")]
    pub path: Option<String>,

    /// Ignore map keys (tensor names, metadata keys) matching this regular expression.
    #[arg(long = "ignore-keys-regex", value_name = "REGEX")]
    pub ignore_keys_regex: Option<String>,

    /// Gates (--regression-test, --alert-on-degradation, --deployment-readiness): largest global
    /// rel_l2 of the model weights accepted.
    #[arg(long = "max-rel-l2", value_name = "X", default_value_t = 0.1)]
    pub max_rel_l2: f64,

    /// Gates: largest relative change of the parameter count (0.05 = 5 %; default 0: none).
    #[arg(
        long = "max-param-change",
        value_name = "FRACTION",
        default_value_t = 0.0
    )]
    pub max_param_change: f64,

    /// Gates: largest relative growth of the file size (0.1 = 10 %).
    #[arg(
        long = "max-size-growth",
        value_name = "FRACTION",
        default_value_t = 0.1
    )]
    pub max_size_growth: f64,

    /// --param-efficiency-analysis: weights with |w| < TAU * std(w) count as near zero.
    #[arg(long = "small-weight-tau", value_name = "TAU", default_value_t = 0.01)]
    pub small_weight_tau: f64,

    /// --low-rank-analysis: most matrix elements sketched in one run, most-changed matrices first
    /// (0: no limit); the others are listed as not analysed.
    #[arg(long = "low-rank-max-elements", value_name = "N", default_value_t = diffai_core::analysis::low_rank::MAX_ELEMENTS)]
    pub low_rank_max_elements: u64,

    /// Attention analyses: the number of heads (else read from num_attention_heads / n_head /
    /// num_heads in the inputs; never guessed).
    #[arg(long = "num-heads", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub num_heads: Option<u32>,

    /// Metric side files for --metric-comparison and --learning-curve-analysis (JSON or YAML, e.g.
    /// trainer_state.json): the first belongs to OLD, the second to NEW; a single one to NEW.
    #[arg(long = "metrics", value_name = "FILE", num_args = 1, action = clap::ArgAction::Append)]
    pub metrics: Vec<PathBuf>,

    /// --metric-comparison: metrics (substrings of their paths) that are better higher.
    #[arg(long = "higher-is-better", value_name = "NAME")]
    pub higher_is_better: Vec<String>,

    /// --metric-comparison: metrics that are better lower (loss and error are by default).
    #[arg(long = "lower-is-better", value_name = "NAME")]
    pub lower_is_better: Vec<String>,

    /// Match the elements of lists of objects by their value under this key instead of by
    /// position (`items[id=7].score`), so reordering such a list is not a change.
    #[arg(long = "array-id-key", value_name = "KEY")]
    pub array_id_key: Option<String>,

    /// Absolute tolerance: an element is unchanged when |new-old| <= epsilon + rtol*|old|.
    #[arg(long = "epsilon", value_name = "FLOAT", default_value_t = 0.0)]
    pub epsilon: f64,

    /// Relative tolerance (see --epsilon).
    #[arg(long = "rtol", value_name = "FLOAT", default_value_t = 0.0)]
    pub rtol: f64,
}

/// The whole command line: the declared flags plus one `--<flag>` per registered analysis.
pub fn command() -> clap::Command {
    ANALYSES.iter().fold(Cli::command(), |cmd, a| {
        cmd.arg(
            Arg::new(a.flag())
                .long(a.flag())
                .action(ArgAction::SetTrue)
                .help(a.help())
                .help_heading("Analyses (see ANALYSES in the README)"),
        )
    })
}

/// The analysis flags given on the command line.
/// The analyses whose results `--include-charts` draws.
pub const CHART_ANALYSES: [&str; 3] = [
    "show-layer-impact",
    "show-distribution",
    "similarity-matrix",
];

pub fn analyses(m: &ArgMatches) -> Vec<&'static str> {
    let set = |f: &str| m.try_get_one::<bool>(f).ok().flatten() == Some(&true);
    let charts = set("include_charts");
    ANALYSES
        .iter()
        .map(|a| a.flag())
        .filter(|f| set(f) || (charts && CHART_ANALYSES.contains(f)))
        .collect()
}
