//! `cxm ingest --dry-run`: the first rows of each file as mapped events and a summary of every
//! field over the whole file; nothing is sent (and no server is needed).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use cxm_mapping::{Outcome, Shown, fields_of};

use super::{IngestArgs, Prepared};
use crate::connection::CliError;
use crate::rows;
use crate::style::Style;

/// Distinct values kept per field for the summary.
const DISTINCT_KEPT: usize = 1000;

/// What one field looked like over a file.
struct FieldSummary {
    name: String,
    rows: u64,
    min: Shown,
    max: Shown,
    distinct: BTreeSet<Shown>,
}

/// Prints each file's mapped rows and field summary.
pub(crate) fn run(args: &IngestArgs, files: &[Prepared]) -> Result<(), CliError> {
    let style = Style::stdout();
    for file in files {
        let options = file.mapping.options();
        println!(
            "{} — {}{} rows, source {}",
            style.bold(&file.path.display().to_string()),
            options.preset.map_or_else(String::new, |p| format!("preset {p}, ")),
            options.event_type.name(),
            options.source
        );
        let (mut mapped, mut skipped, mut rejected) = (0u64, 0u64, 0u64);
        let mut shown = 0usize;
        let mut summary: Vec<FieldSummary> = Vec::new();
        let mut problems: Vec<String> = Vec::new();
        rows::read_file(&file.path, file.format, &file.mapping, |line, result| {
            match result {
                Ok(Outcome::Event(event)) => {
                    mapped += 1;
                    let fields = fields_of(&event);
                    if shown < args.show {
                        shown += 1;
                        let text: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        println!("  line {line}: {}", text.join(" "));
                    }
                    for (name, value) in fields {
                        add(&mut summary, name, value);
                    }
                }
                Ok(Outcome::Skipped(reason)) => {
                    skipped += 1;
                    if problems.len() < args.show {
                        problems.push(format!("line {line}: skipped, {reason}"));
                    }
                }
                Err(reason) => {
                    rejected += 1;
                    if problems.len() < args.show {
                        problems.push(format!("line {line}: rejected, {reason}"));
                    }
                }
            }
            ControlFlow::Continue(())
        })
        .map_err(CliError::failure)?;
        for problem in &problems {
            println!("  {}", style.yellow(problem));
        }
        println!("  rows {} · mapped {mapped} · skipped {skipped} · rejected {rejected}", mapped + skipped + rejected);
        println!("  {:<16} {:>7}  values", "field", "rows");
        for field in &summary {
            let values = if field.distinct.len() <= 5 && matches!(field.min, Shown::Text(_)) {
                let list: Vec<String> = field.distinct.iter().map(ToString::to_string).collect();
                format!("{} distinct: {}", field.distinct.len(), list.join(", "))
            } else if matches!(field.min, Shown::Text(_)) {
                let more = if field.distinct.len() >= DISTINCT_KEPT { "+" } else { "" };
                format!("{}{more} distinct", field.distinct.len())
            } else {
                format!("{} .. {}", field.min, field.max)
            };
            println!("  {:<16} {:>7}  {values}", field.name, field.rows);
        }
    }
    println!("{}", style.bold("dry run: nothing was sent"));
    Ok(())
}

fn add(summary: &mut Vec<FieldSummary>, name: String, value: Shown) {
    match summary.iter_mut().find(|f| f.name == name) {
        Some(field) => {
            field.rows += 1;
            if value < field.min {
                field.min = value.clone();
            }
            if value > field.max {
                field.max = value.clone();
            }
            if field.distinct.len() < DISTINCT_KEPT {
                field.distinct.insert(value);
            }
        }
        None => summary.push(FieldSummary {
            name,
            rows: 1,
            min: value.clone(),
            max: value.clone(),
            distinct: BTreeSet::from([value]),
        }),
    }
}
