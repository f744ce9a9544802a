//! The diffai binary: parses flags, runs the library, prints, and turns the result into an exit
//! status (0 same, 1 different, 2 error).

mod flags;
mod options;
mod progress;
mod signals;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::FromArgMatches;
use diffai_core::{analysis, diff, formats, inspect, Artifact, Report};

use flags::{Cli, Command, Common};

/// mimalloc: readers of text formats build millions of small nodes; glibc's malloc spent about a
/// third of a large JSON diff growing its per-thread heaps (page faults, mprotect).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit statuses of the command-line contract.
const EXIT_SAME: u8 = 0;
const EXIT_DIFFERENT: u8 = 1;
const EXIT_ERROR: u8 = 2;
/// A gate (`--regression-test`, `--alert-on-degradation`) failed.
const EXIT_GATE_FAILED: u8 = 3;

fn main() -> ExitCode {
    signals::install();
    let matches = flags::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let analyses = flags::analyses(&matches);
    match run(cli, &analyses) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("diffai: error: {}", one_line(&format!("{e:#}")));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Errors are one line on stderr, whatever the underlying message looks like.
fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join(" ")
}

fn run(cli: Cli, analyses: &[&'static str]) -> Result<u8> {
    match cli.command {
        Some(Command::Completions { shell }) => {
            let mut cmd = flags::command();
            let mut out = io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "diffai", &mut out);
            Ok(EXIT_SAME)
        }
        Some(Command::Inspect { file, common }) => run_inspect(&file, &common),
        None => {
            let old = cli.old.expect("required");
            let several = !cli.more.is_empty() || cli.new.is_none();
            if several && analyses.contains(&"similarity-matrix") {
                let models = match cli.new {
                    Some(new) => [vec![old, new], cli.more].concat(),
                    None => models_in(&old)?,
                };
                return run_models(&models, &cli.common, &cli.diff);
            }
            match (cli.new, cli.more.is_empty()) {
                (Some(new), true) => run_diff(&old, &new, &cli.common, &cli.diff, analyses),
                (None, _) => flags::command()
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "the following required arguments were not provided:\n  <NEW>",
                    )
                    .exit(),
                (Some(_), false) => anyhow::bail!(
                    "{} inputs: only --similarity-matrix compares more than two",
                    2 + cli.more.len()
                ),
            }
        }
    }
}

fn run_diff(
    old_path: &Path,
    new_path: &Path,
    common: &Common,
    f: &flags::DiffFlags,
    analyses: &[&str],
) -> Result<u8> {
    let started = Instant::now();
    options::init_threads(common.threads)?;
    let opts = options::diff_options(f)?;
    let out = options::output(common, f.tensor_details)?;
    if f.recursive {
        return run_dir_diff(old_path, new_path, common, f, &opts, &out);
    }
    let (old, new) = formats::read_pair(old_path, new_path, common.format.as_deref())?;
    let old = select_root(old, f.old_root.as_deref())?;
    let new = select_root(new, f.new_root.as_deref())?;

    let progress = progress::Display::start(!f.quiet);
    let mut report = diff::diff(&old, &new, &opts, Some(progress.counter()));
    if !analyses.is_empty() {
        let settings = analysis::Settings {
            max_rel_l2: f.max_rel_l2,
            max_param_change: f.max_param_change,
            max_size_growth: f.max_size_growth,
            small_weight_tau: f.small_weight_tau,
            low_rank_max_elements: f.low_rank_max_elements,
            num_heads: f.num_heads.map(|h| h as usize),
            ..analysis::Settings::default()
        };
        let mut settings = settings;
        let metric =
            |p: &PathBuf| -> Result<diffai_core::Value> { Ok(formats::read(p, None)?.root) };
        match f.metrics.as_slice() {
            [] => {}
            [new] => settings.metrics_new = Some(metric(new)?),
            [old, new] => {
                settings.metrics_old = Some(metric(old)?);
                settings.metrics_new = Some(metric(new)?);
            }
            _ => anyhow::bail!("--metrics takes at most two files (old, new)"),
        }
        settings.higher_is_better = f.higher_is_better.clone();
        settings.lower_is_better = f.lower_is_better.clone();
        let input = analysis::Input::new(&old, &new, &opts, &report, &settings);
        report.analyses = analysis::run(analyses, &input);
    }
    progress.finish();
    if f.sort_by_change_magnitude {
        diff::sort_by_change_magnitude(&mut report.changes);
    }
    let gate_failed = report
        .analyses
        .0
        .iter()
        .any(|(_, f)| f.passed == Some(false));
    let status = if gate_failed {
        EXIT_GATE_FAILED
    } else if report.summary.differences() > 0 {
        EXIT_DIFFERENT
    } else {
        EXIT_SAME
    };
    if f.verbose {
        eprint!("{}", verbose_block(common, f, &old, &new, &report, started));
    }
    inputs_unchanged()?;
    if f.quiet {
        std::mem::forget((old, new, report));
        return Ok(status);
    }
    if let Some(path) = &f.generate_report {
        write_report(path, &out.render, |r, o, w| r.render(&report, o, w))?;
    }
    let written = write_stdout(|w| {
        if f.brief {
            brief_line(w, old_path, new_path, &report)
        } else {
            out.renderer.render(&report, &out.render, w)
        }
    });
    // The process ends here: freeing trees of millions of nodes one by one would cost a large
    // share of the run (a 65 MB JSON file is ~5 million values), and the OS reclaims it at once.
    std::mem::forget((old, new, report));
    finish_output(written, status)
}

/// `--recursive`: exit status over all pairs — 2 if any could not be compared (the report
/// still lists every file, the failed ones with their error), else 1 if any file differs.
fn run_dir_diff(
    old_path: &Path,
    new_path: &Path,
    common: &Common,
    f: &flags::DiffFlags,
    opts: &diff::Options,
    out: &options::Output,
) -> Result<u8> {
    let dir_opts = diff::dir::DirOptions {
        include: f.include.clone(),
        exclude: f.exclude.clone(),
        format: common.format.clone(),
    };
    let progress = progress::Display::start(!f.quiet);
    let mut report = diff::dir::diff_dirs(
        old_path,
        new_path,
        opts,
        &dir_opts,
        Some(progress.counter()),
    )?;
    progress.finish();
    if f.sort_by_change_magnitude {
        for file in &mut report.files {
            if let Some(r) = &mut file.report {
                diff::sort_by_change_magnitude(&mut r.changes);
            }
        }
    }
    for file in &report.files {
        if let Some(e) = &file.error {
            eprintln!("diffai: error: {}", one_line(e));
        }
    }
    let s = &report.summary;
    let status = if s.failed > 0 {
        EXIT_ERROR
    } else if s.differences() > 0 {
        EXIT_DIFFERENT
    } else {
        EXIT_SAME
    };
    inputs_unchanged()?;
    if f.quiet {
        return Ok(status);
    }
    if let Some(path) = &f.generate_report {
        write_report(path, &out.render, |r, o, w| r.render_dir(&report, o, w))?;
    }
    let written = write_stdout(|w| {
        if f.brief {
            for file in &report.files {
                let (o, n) = (old_path.join(&file.path), new_path.join(&file.path));
                match (&file.report, file.status) {
                    (Some(r), _) => brief_line(w, &o, &n, r)?,
                    (None, diff::dir::FileStatus::Added) => {
                        writeln!(w, "Only in {}: {}", new_path.display(), file.path)?
                    }
                    (None, diff::dir::FileStatus::Removed) => {
                        writeln!(w, "Only in {}: {}", old_path.display(), file.path)?
                    }
                    _ => {}
                }
            }
            Ok(())
        } else {
            out.renderer.render_dir(&report, &out.render, w)
        }
    });
    finish_output(written, status)
}

/// The model files directly inside `dir` (any recognised tensor format), in name order.
fn models_in(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{}: one input: --similarity-matrix needs a directory of checkpoints or at least two files",
            dir.display()
        );
    }
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("{}", dir.display()))?.path();
        if path.is_file() && formats::recognise(&path)?.is_some_and(|r| r.holds_weights()) {
            found.push(path);
        }
    }
    found.sort();
    if found.len() < 2 {
        anyhow::bail!(
            "{}: {} model file(s): --similarity-matrix needs at least two",
            dir.display(),
            found.len()
        );
    }
    Ok(found)
}

/// `--similarity-matrix` over several models: every pair diffed, the matrix printed.
fn run_models(paths: &[std::path::PathBuf], common: &Common, f: &flags::DiffFlags) -> Result<u8> {
    options::init_threads(common.threads)?;
    let opts = options::diff_options(f)?;
    let out = options::output(common, f.tensor_details)?;
    let models: Vec<Artifact> = paths
        .iter()
        .map(|p| read(p, common))
        .collect::<Result<_>>()?;
    let matrix = analysis::similarity::model_matrix(&models, &opts);
    let status = if matrix.differ {
        EXIT_DIFFERENT
    } else {
        EXIT_SAME
    };
    inputs_unchanged()?;
    if f.quiet {
        return Ok(status);
    }
    if let Some(path) = &f.generate_report {
        write_report(path, &out.render, |r, o, w| r.render_matrix(&matrix, o, w))?;
    }
    let written = write_stdout(|w| out.renderer.render_matrix(&matrix, &out.render, w));
    std::mem::forget(models);
    finish_output(written, status)
}

fn run_inspect(file: &Path, common: &Common) -> Result<u8> {
    options::init_threads(common.threads)?;
    let out = options::output(common, true)?;
    let artifact = read(file, common)?;
    let progress = progress::Display::start(true);
    let inspection = inspect::inspect(&artifact, Some(progress.counter()));
    progress.finish();
    inputs_unchanged()?;
    let written = write_stdout(|w| out.renderer.render_inspection(&inspection, &out.render, w));
    finish_output(written, EXIT_SAME)
}

/// `--old-root`/`--new-root`: keep only one subtree of an input.
fn select_root(mut a: Artifact, root: Option<&str>) -> Result<Artifact> {
    if let Some(path) = root {
        let sub = a
            .root
            .subtree(path)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{}: has no subtree '{path}'", a.path.display()))?;
        a.root = sub;
    }
    Ok(a)
}

fn read(path: &Path, common: &Common) -> Result<Artifact> {
    Ok(formats::read(path, common.format.as_deref())?)
}

/// `--generate-report FILE`: the HTML report, written whole to FILE (a failure names the file).
fn write_report(
    path: &Path,
    render: &diffai_render::RenderOptions,
    f: impl FnOnce(
        &dyn diffai_render::Renderer,
        &diffai_render::RenderOptions,
        &mut dyn Write,
    ) -> io::Result<()>,
) -> Result<()> {
    let html = diffai_render::find("html")
        .ok_or_else(|| anyhow::anyhow!("--generate-report: this build has no HTML renderer"))?;
    let opts = diffai_render::RenderOptions {
        color: false,
        ..*render
    };
    let write = || -> io::Result<()> {
        let mut w = BufWriter::new(std::fs::File::create(path)?);
        f(html, &opts, &mut w)?;
        w.flush()
    };
    write().map_err(|e| anyhow::anyhow!("{}: writing the report: {e}", path.display()))
}

/// Before printing: an input modified while it was read gives no report.
fn inputs_unchanged() -> Result<()> {
    match diffai_core::mapped::changed() {
        Some(path) => anyhow::bail!(
            "{}: the file changed while being read (modified by another process); no report was written",
            path.display()
        ),
        None => Ok(()),
    }
}

/// Writes through one buffered handle to stdout (never `println!`, which panics on a closed pipe).
fn write_stdout(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    f(&mut w)?;
    w.flush()
}

/// A reader that closed the pipe (`diffai … | head`) ends the run quietly with the diff's status.
fn finish_output(written: io::Result<()>, status: u8) -> Result<u8> {
    match written {
        Ok(()) => Ok(status),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => Err(anyhow::anyhow!("writing the output: {e}")),
    }
}

/// `OLD and NEW differ: 3 changed, 1 added` (nothing when they do not differ).
fn brief_line(w: &mut dyn Write, old: &Path, new: &Path, report: &Report) -> io::Result<()> {
    let s = &report.summary;
    if s.differences() == 0 {
        return Ok(());
    }
    let counts: Vec<String> = [
        ("changed", s.changed),
        ("added", s.added),
        ("removed", s.removed),
        ("reshaped", s.reshaped),
        ("retyped", s.retyped),
        ("type changed", s.type_changed),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{n} {name}"))
    .collect();
    writeln!(
        w,
        "{} and {} differ: {}",
        old.display(),
        new.display(),
        counts.join(", ")
    )
}

/// The product documents' diagnostics block (`--verbose`), printed to stderr.
fn verbose_block(
    common: &Common,
    f: &flags::DiffFlags,
    old: &Artifact,
    new: &Artifact,
    report: &Report,
    started: Instant,
) -> String {
    let elapsed = started.elapsed();
    let mut features = vec!["statistics"];
    if f.tensor_details {
        features.push("tensor_details");
    }
    if f.sort_by_change_magnitude {
        features.push("sort_by_change_magnitude");
    }
    let mut filters = Vec::new();
    for (name, v) in [
        ("filter", &f.filter),
        ("path", &f.path),
        ("ignore-keys-regex", &f.ignore_keys_regex),
    ] {
        if let Some(v) = v {
            filters.push(format!("{name}={v}"));
        }
    }
    let bytes = (old.file_size + new.file_size) as f64;
    let secs = elapsed.as_secs_f64();
    format!(
        "=== diffai verbose mode enabled ===\n\
         Configuration:\n  Input format: {}\n  Output format: {}\n  ML analysis features: {}\n  \
         Epsilon tolerance: {}\n  Relative tolerance: {}\n  Filters: {}\n  Threads: {}\n\n\
         File analysis:\n  Input 1: {}\n  Input 2: {}\n  Detected format: {} / {}\n  \
         File 1 size: {} bytes\n  File 2 size: {} bytes\n  Tensors: {} / {}\n  Parameters: {} / {}\n\n\
         Processing results:\n  Total processing time: {:.3}ms\n  Differences found: {}\n  \
         Unchanged: {}\n  Throughput: {:.2} GB/s\n",
        common.format.as_deref().unwrap_or("auto"),
        common.output,
        features.join(", "),
        f.epsilon,
        f.rtol,
        if filters.is_empty() { "none".to_string() } else { filters.join(", ") },
        rayon::current_num_threads(),
        old.path.display(),
        new.path.display(),
        old.format,
        new.format,
        old.file_size,
        new.file_size,
        report.old.tensors,
        report.new.tensors,
        report.old.parameters,
        report.new.parameters,
        secs * 1e3,
        report.summary.differences(),
        report.summary.unchanged,
        if secs > 0.0 { bytes / secs / 1e9 } else { 0.0 },
    )
}
