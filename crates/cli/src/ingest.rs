//! `cxm ingest`: event files mapped by the `cxm-mapping` engine (options and vendor presets, as
//! in the file plugin) and streamed over `IngestStream` in batches, with a progress bar and a
//! summary that names each rejected row by file and line; `--dry-run` shows the mapping instead.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use cxm_mapping::{Mapping, Outcome};
use cxm_proto::v1::{IngestRequest, IngestResponse};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::connection::{CliError, Connection};
use crate::render::number;
use crate::rows::{self, EventKind, FileFormat};
use crate::style::{self, Style};

/// `cxm ingest`.
#[derive(Args, Debug)]
pub(crate) struct IngestArgs {
    /// CSV, TSV or JSON Lines files (format from the extension, or --format).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// A vendor export layout: qualtrics, surveymonkey, typeform, delighted, zendesk,
    /// hubspot-deals (docs/mapping.md). Applies to every file.
    #[arg(long, value_name = "NAME")]
    pub(crate) preset: Option<String>,
    /// What every file's rows are (default: the preset's, else told from each file's columns).
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub(crate) kind: Option<EventKind>,
    /// The source of every event (default: the preset's name, else `file`).
    #[arg(long)]
    pub(crate) source: Option<String>,
    /// A mapping option, repeatable, e.g. --set time_zone=America/New_York --set
    /// 'mapping=id=Response ID' (the file plugin's config keys; docs/mapping.md).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
    /// The format of every file, whatever its extension.
    #[arg(long, value_enum)]
    pub(crate) format: Option<FileFormat>,
    /// Shows the first rows as mapped events and a summary of every field; sends nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Events per request on the stream (at most 10,000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) batch: u32,
    /// Longest time one IngestStream call stays open, in milliseconds, before the next batches
    /// go on a fresh stream (cxmd times out long requests).
    #[arg(long, default_value_t = 10_000, hide = true)]
    pub(crate) stream_window_ms: u64,
    /// How many rejected rows (with --dry-run: mapped rows) to list.
    #[arg(long, default_value_t = 10)]
    pub(crate) show: usize,
}

#[path = "ingest_dry_run.rs"]
mod dry_run;

/// Shows what the files map to, sending nothing.
pub(crate) fn dry_run(args: &IngestArgs, files: &[Prepared]) -> Result<(), CliError> {
    dry_run::run(args, files)
}

/// One file, its format and its mapping, checked against its header and first rows.
pub(crate) struct Prepared {
    path: PathBuf,
    format: FileFormat,
    mapping: Mapping,
}

/// Builds and checks the mapping of every file before anything is sent: a file whose header
/// lacks a required column, or whose first rows are all rejected, fails the whole command.
pub(crate) fn prepare(args: &IngestArgs) -> Result<Vec<Prepared>, CliError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(preset) = &args.preset {
        pairs.push(("preset".into(), preset.clone()));
    }
    if let Some(kind) = args.kind {
        pairs.push(("event_type".into(), kind.name().into()));
    }
    if let Some(source) = &args.source {
        pairs.push(("source".into(), source.clone()));
    }
    for set in &args.set {
        let (key, value) = set
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--set {set:?} is not KEY=VALUE, e.g. --set time_zone=UTC")))?;
        pairs.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    let mut files = Vec::new();
    for path in &args.files {
        let format = args.format.or_else(|| FileFormat::from_path(path)).ok_or_else(|| {
            CliError::usage(format!(
                "cannot tell the format of {}: name it .csv, .tsv or .jsonl, or pass --format",
                path.display()
            ))
        })?;
        if !path.is_file() {
            return Err(CliError::failure(format!("{} is not a readable file", path.display())));
        }
        let mapping = rows::mapping_for(path, format, &pairs)?;
        rows::probe(path, format, &mapping).map_err(CliError::failure)?;
        files.push(Prepared { path: path.clone(), format, mapping });
    }
    Ok(files)
}

/// Where each event sent on the stream came from: `lines[i]` is event i's line, in the file that
/// `files` says starts at or before i.
#[derive(Default, Debug)]
struct Origins {
    lines: Vec<u32>,
    files: Vec<(usize, usize)>,
}

impl Origins {
    fn locate(&self, index: usize, names: &[String]) -> String {
        let file = self.files.iter().rev().find(|(start, _)| *start <= index).map_or(0, |(_, f)| *f);
        match self.lines.get(index) {
            Some(line) => format!("{}:{line}", names[file]),
            None => format!("event #{index}"),
        }
    }
}

/// What the reading side did.
#[derive(Default, Debug)]
struct ReadOutcome {
    origins: Origins,
    /// Rows cxm could not map, so not sent: (file, line, reason); the first `show` of them.
    unreadable: Vec<(usize, u64, String)>,
    unreadable_count: u64,
    /// Rows a row filter skipped, and the first of them (file, line, reason).
    skipped_count: u64,
    first_skipped: Option<(usize, u64, String)>,
    /// A failure reading a file, which stopped the read.
    error: Option<String>,
}

fn count_rows(file: &Prepared) -> u64 {
    let Ok(bytes) = std::fs::read(&file.path) else { return 0 };
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64 + u64::from(!bytes.ends_with(b"\n"));
    if file.format == FileFormat::Jsonl {
        lines
    } else {
        lines.saturating_sub(file.mapping.options().header_rows() as u64)
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    if !style::progress_allowed() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(template) =
        ProgressStyle::with_template("{spinner} [{bar:30}] {human_pos}/{human_len} rows · {rate} · ETA {eta} {msg}")
    {
        let rate = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{} rows/s", number(state.per_sec().round()));
        };
        bar.set_style(template.progress_chars("=> ").with_key("rate", rate));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Reads every file in order, sending batches; runs on a blocking thread.
fn read_all(
    files: &[Prepared],
    batch: usize,
    show: usize,
    sender: &mpsc::Sender<IngestRequest>,
    bar: &ProgressBar,
) -> ReadOutcome {
    let mut outcome = ReadOutcome::default();
    let mut events = Vec::with_capacity(batch);
    let mut closed = false;
    for (index, file) in files.iter().enumerate() {
        outcome.origins.files.push((outcome.origins.lines.len(), index));
        let read = rows::read_file(&file.path, file.format, &file.mapping, |line, result| {
            bar.inc(1);
            match result {
                Ok(Outcome::Event(event)) => {
                    events.push(event);
                    outcome.origins.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
                }
                Ok(Outcome::Skipped(reason)) => {
                    outcome.skipped_count += 1;
                    outcome.first_skipped.get_or_insert((index, line, reason));
                }
                Err(reason) => {
                    outcome.unreadable_count += 1;
                    if outcome.unreadable.len() < show {
                        outcome.unreadable.push((index, line, reason));
                    }
                }
            }
            if events.len() >= batch {
                let full = std::mem::replace(&mut events, Vec::with_capacity(batch));
                if sender.blocking_send(IngestRequest { events: full }).is_err() {
                    closed = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if let Err(e) = read {
            outcome.error = Some(e);
            break;
        }
        if closed {
            return outcome;
        }
    }
    if !events.is_empty() {
        let _ = sender.blocking_send(IngestRequest { events });
    }
    outcome
}

/// Runs `cxm ingest` (the files were checked by [`prepare`]).
pub(crate) async fn run(connection: &Connection, args: &IngestArgs, files: Vec<Prepared>) -> Result<(), CliError> {
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    let total: u64 = files.iter().map(count_rows).sum();
    let (sender, mut receiver) = mpsc::channel::<IngestRequest>(4);
    let bar = progress_bar(total);
    let started = Instant::now();
    let (batch, show, reader_bar) = (args.batch as usize, args.show, bar.clone());
    let reader = tokio::task::spawn_blocking(move || read_all(&files, batch, show, &sender, &reader_bar));
    let window = Duration::from_millis(args.stream_window_ms);
    let answer = send_all(connection, &mut receiver, window, &bar).await;
    drop(receiver); // stops the reader if the server gave up
    let outcome = reader.await.map_err(|e| CliError::failure(format!("reading the files failed: {e}")))?;
    bar.finish_and_clear();
    let answer = answer.map_err(|s| connection.explain(&s))?;
    report(&answer, &outcome, &names, args.show, started.elapsed());
    if let Some(error) = outcome.error {
        return Err(CliError::failure(format!("{error} (the rows before it were sent)")));
    }
    let rejected = answer.rejections.len() as u64 + outcome.unreadable_count;
    if rejected > 0 {
        return Err(CliError::failure(format!(
            "{rejected} rows were rejected and not stored: {} by cxmd, {} that cxm could not map (listed above)",
            answer.rejections.len(),
            outcome.unreadable_count
        )));
    }
    Ok(())
}

/// Sends every batch the reader produces over one or more `IngestStream` calls, each open for at
/// most `window` (cxmd times out requests, 30 s by default, so a long load goes as a run of
/// streams), and adds up their answers, rejection indexes counted across all of them.
async fn send_all(
    connection: &Connection,
    receiver: &mut mpsc::Receiver<IngestRequest>,
    window: Duration,
    bar: &ProgressBar,
) -> Result<IngestResponse, tonic::Status> {
    let mut total = IngestResponse::default();
    let mut offset = 0u64;
    let mut pending = receiver.recv().await;
    while let Some(first) = pending.take() {
        let (sender, stream) = mpsc::channel::<IngestRequest>(2);
        let mut client = connection.ingest();
        let call = tokio::spawn(async move { client.ingest_stream(ReceiverStream::new(stream)).await });
        let opened = Instant::now();
        let mut sent = 0u64;
        let mut closed_early = false;
        let mut next = Some(first);
        while let Some(batch) = next {
            sent += batch.events.len() as u64;
            if sender.send(batch).await.is_err() {
                closed_early = true;
                break;
            }
            next = receiver.recv().await;
            if next.is_some() && opened.elapsed() >= window {
                pending = next;
                break;
            }
        }
        drop(sender);
        bar.set_message("waiting for cxmd to flush");
        let part =
            call.await.map_err(|e| tonic::Status::unknown(format!("the ingest stream failed: {e}")))??.into_inner();
        bar.set_message("");
        if closed_early {
            return Err(tonic::Status::unknown("cxmd closed the ingest stream early"));
        }
        total.accepted += part.accepted;
        total.updated += part.updated;
        total.duplicates += part.duplicates;
        total.stale += part.stale;
        total.rejections.extend(part.rejections.into_iter().map(|mut r| {
            r.index = u32::try_from(offset + u64::from(r.index)).unwrap_or(u32::MAX);
            r
        }));
        offset += sent;
    }
    Ok(total)
}

fn report(answer: &IngestResponse, outcome: &ReadOutcome, names: &[String], show: usize, elapsed: Duration) {
    let style = Style::stdout();
    let sent = outcome.origins.lines.len() as u64;
    let rate = sent as f64 / elapsed.as_secs_f64().max(1e-3);
    println!(
        "{} {sent} events from {} file{} in {:.1} s ({} events/s)",
        style.bold("sent"),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        elapsed.as_secs_f64(),
        number(rate.round())
    );
    let rejected = answer.rejections.len() as u64 + outcome.unreadable_count;
    let line = format!(
        "accepted {} · updated {} · duplicates {} · stale {} · rejected {rejected} · skipped {}",
        answer.accepted, answer.updated, answer.duplicates, answer.stale, outcome.skipped_count
    );
    println!("  {}", if rejected == 0 { style.green(&line) } else { style.yellow(&line) });
    if rejected > 0 {
        println!("{}", style.bold("rejected (by cxmd, or not sent because cxm could not map them):"));
        for rejection in answer.rejections.iter().take(show) {
            let at = outcome.origins.locate(rejection.index as usize, names);
            println!("  {}  {}: {}", style.red(&at), rejection.field, rejection.reason);
        }
        for (file, line, reason) in &outcome.unreadable {
            println!("  {}  {reason}", style.red(&format!("{}:{line}", names[*file])));
        }
        let listed = answer.rejections.len().min(show) as u64 + outcome.unreadable.len() as u64;
        if rejected > listed {
            println!("  … and {} more", rejected - listed);
        }
    }
    if let Some((file, line, reason)) = &outcome.first_skipped {
        println!(
            "{} {} rows by a row filter (not errors), e.g. {}:{line}  {reason}",
            style.bold("skipped"),
            outcome.skipped_count,
            names[*file]
        );
    }
}
