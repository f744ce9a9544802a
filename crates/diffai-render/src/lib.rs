//! Renderers: a [`Report`] in, bytes out. One file per output format, registered in [`RENDERERS`].

use std::io::{self, Write};

use diffai_core::analysis::similarity::ModelMatrix;
use diffai_core::diff::dir::DirReport;
use diffai_core::inspect::Inspection;
use diffai_core::Report;

pub mod html;
pub mod json;
pub mod markdown;
pub mod numfmt;
pub mod review;
pub mod text;
pub mod yaml;

/// How a report is to be shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// ANSI colour (text only).
    pub color: bool,
    /// Every statistic and pairwise metric for every listed tensor.
    pub tensor_details: bool,
    /// Charts (HTML): per-layer change bars, histograms, the similarity heatmap, size bars.
    pub include_charts: bool,
    /// A short plain-language summary for a reviewer first.
    pub review_friendly: bool,
}

/// One output format.
pub trait Renderer: Sync {
    /// The name `-o/--output` accepts.
    fn name(&self) -> &'static str;
    /// Other accepted names.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    fn render(&self, report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()>;
    /// Renders `diffai inspect`.
    fn render_inspection(
        &self,
        inspection: &Inspection,
        opts: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()>;
    /// Renders `--similarity-matrix` over three or more models.
    fn render_matrix(
        &self,
        matrix: &ModelMatrix,
        opts: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()>;
    /// Renders `--recursive`: two directories compared file by file.
    fn render_dir(
        &self,
        report: &DirReport,
        opts: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()>;
}

/// Every output format; the first is the default.
pub static RENDERERS: &[&dyn Renderer] = &[
    &text::Text,
    &json::Json,
    &yaml::Yaml,
    &markdown::Markdown,
    &html::Html,
];

/// The renderer called `name` (or one of its aliases).
pub fn find(name: &str) -> Option<&'static dyn Renderer> {
    RENDERERS.iter().copied().find(|r| {
        r.name().eq_ignore_ascii_case(name)
            || r.aliases().iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}
