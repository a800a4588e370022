//! Plain tables of named columns (goals, drivers) in the three output formats: aligned text for
//! people, JSON objects and CSV rows for scripts.

use crate::connection::CliError;
use crate::render::OutputFormat;
use crate::style::Style;

/// Rows of cells under a header; the first column is left-aligned, the others right-aligned.
pub(crate) struct Grid {
    /// Column names (also the JSON keys and CSV header).
    pub(crate) header: Vec<&'static str>,
    /// One text per column per row; "" for a missing number.
    pub(crate) rows: Vec<Vec<String>>,
    /// The columns that hold text (the others hold numbers: JSON numbers, "" is null).
    pub(crate) text: Vec<&'static str>,
}

impl Grid {
    /// Aligned text with a bold header.
    fn text(&self, style: Style) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| self.rows.iter().map(|r| r[i].chars().count()).chain([self.header[i].len()]).max().unwrap_or(0))
            .collect();
        let line = |cells: Vec<String>| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(
                    |(i, c)| if i == 0 { format!("{c:<w$}", w = widths[i]) } else { format!("{c:>w$}", w = widths[i]) },
                )
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let header = line(self.header.iter().map(|h| (*h).to_owned()).collect());
        let mut out = style.bold(header.trim_end());
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row.clone()));
        }
        out
    }

    /// One JSON object per row (numbers as numbers, "" as null).
    fn json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .header
                    .iter()
                    .zip(row)
                    .map(|(h, cell)| {
                        let value = if self.text.contains(h) {
                            serde_json::Value::String(cell.clone())
                        } else if let Ok(whole) = cell.parse::<i64>() {
                            serde_json::Value::from(whole)
                        } else {
                            cell.parse::<f64>()
                                .ok()
                                .and_then(serde_json::Number::from_f64)
                                .map_or(serde_json::Value::Null, serde_json::Value::Number)
                        };
                        ((*h).to_owned(), value)
                    })
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::Value::Array(rows)
    }

    /// CSV with the header.
    fn csv(&self) -> Result<String, CliError> {
        let failed = |e: csv::Error| CliError::failure(format!("cannot write CSV: {e}"));
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&self.header).map_err(failed)?;
        for row in &self.rows {
            writer.write_record(row).map_err(failed)?;
        }
        let bytes = writer.into_inner().map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))
    }

    /// The grid in `format`: under `title` for a table; as `{key: rows, ..extra}` for JSON.
    pub(crate) fn render(
        &self,
        format: OutputFormat,
        title: &str,
        key: &str,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, CliError> {
        Ok(match format {
            OutputFormat::Table => {
                let style = Style::stdout();
                format!("{}\n\n{}", style.bold(title), self.text(style))
            }
            OutputFormat::Json => {
                let mut whole = extra;
                whole.insert(key.to_owned(), self.json());
                format!("{}\n", serde_json::to_string_pretty(&serde_json::Value::Object(whole)).unwrap_or_default())
            }
            OutputFormat::Csv => self.csv()?,
        })
    }
}

/// A number for a cell: full precision for scripts (JSON, CSV) or two decimals for people.
pub(crate) fn cell(value: Option<f64>, format: OutputFormat) -> String {
    cell_with(value, format, 2)
}

/// A number for a cell, with `decimals` for people.
pub(crate) fn cell_with(value: Option<f64>, format: OutputFormat, decimals: usize) -> String {
    match (value, format) {
        (None, _) => String::new(),
        (Some(v), OutputFormat::Table) => crate::table::fixed(v, decimals),
        (Some(v), _) => v.to_string(),
    }
}
