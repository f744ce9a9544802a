//! YAML: the same object as JSON.

use std::io::{self, Write};

use diffai_core::analysis::similarity::ModelMatrix;
use diffai_core::diff::dir::DirReport;
use diffai_core::inspect::Inspection;
use diffai_core::Report;
use serde::Serialize;

use crate::{RenderOptions, Renderer};

pub struct Yaml;

impl Renderer for Yaml {
    fn name(&self) -> &'static str {
        "yaml"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["yml"]
    }

    fn render(&self, report: &Report, _: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
        write(report, out)
    }

    fn render_inspection(
        &self,
        inspection: &Inspection,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        write(inspection, out)
    }

    fn render_matrix(
        &self,
        matrix: &ModelMatrix,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        write(matrix, out)
    }

    fn render_dir(
        &self,
        report: &DirReport,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        write(report, out)
    }
}

fn write(value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    let text = serde_saphyr::to_string(value).map_err(io::Error::other)?;
    out.write_all(text.as_bytes())
}
