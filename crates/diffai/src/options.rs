//! Flags → validated options for the library and the renderers.

use std::io::IsTerminal;

use anyhow::{bail, Context, Result};
use diffai_core::diff::Options as DiffOptions;
use diffai_core::stats::Tolerance;
use diffai_render::{RenderOptions, Renderer};
use regex::Regex;

use crate::flags::{ColorWhen, Common, DiffFlags};

/// How the output is written.
pub struct Output {
    pub renderer: &'static dyn Renderer,
    pub render: RenderOptions,
}

pub fn output(common: &Common, tensor_details: bool) -> Result<Output> {
    let name = if common.markdown_output {
        "markdown"
    } else {
        &common.output
    };
    let renderer = diffai_render::find(name).with_context(|| {
        let names: Vec<&str> = diffai_render::RENDERERS.iter().map(|r| r.name()).collect();
        format!(
            "unknown output format '{}' (known: {})",
            name,
            names.join(", ")
        )
    })?;
    Ok(Output {
        renderer,
        render: RenderOptions {
            color: use_color(common),
            tensor_details,
            include_charts: common.include_charts,
            review_friendly: common.review_friendly,
        },
    })
}

/// `--no-color` and `--color never` win; `--color always` overrides NO_COLOR (no-color.org:
/// command-line arguments override the variable); `auto` colours a terminal unless NO_COLOR is set.
fn use_color(common: &Common) -> bool {
    if common.no_color {
        return false;
    }
    match common.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            let env_off = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            !env_off && std::io::stdout().is_terminal()
        }
    }
}

pub fn diff_options(f: &DiffFlags) -> Result<DiffOptions> {
    for (name, v) in [
        ("--epsilon", f.epsilon),
        ("--rtol", f.rtol),
        ("--max-rel-l2", f.max_rel_l2),
        ("--max-param-change", f.max_param_change),
        ("--max-size-growth", f.max_size_growth),
        ("--small-weight-tau", f.small_weight_tau),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            bail!("{name} must be a finite number >= 0, got {v}");
        }
    }
    let regex = |flag: &str, re: &Option<String>| -> Result<Option<Regex>> {
        re.as_deref()
            .map(|r| {
                Regex::new(r).map_err(|e| {
                    // The regex crate's message draws a caret under the pattern; keep its verdict.
                    let why = e.to_string();
                    let why = why.lines().last().unwrap_or_default().trim().to_string();
                    anyhow::anyhow!("invalid {flag} regular expression '{r}': {why}")
                })
            })
            .transpose()
    };
    Ok(DiffOptions {
        tolerance: Tolerance {
            epsilon: f.epsilon,
            rtol: f.rtol,
        },
        filter: regex("--filter", &f.filter)?,
        path: f.path.clone(),
        ignore_keys: regex("--ignore-keys-regex", &f.ignore_keys_regex)?,
        array_id_key: f.array_id_key.clone(),
        include_unchanged: f.tensor_details && !f.diff_only,
        one_sided_stats: !(f.quiet || f.brief),
    })
}

pub fn init_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("could not start the worker threads")?;
    }
    Ok(())
}
