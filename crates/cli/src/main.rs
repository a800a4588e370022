//! `cxm`: the command-line client of cxmd, for people.
//!
//! Browse the metric catalog, ask for a metric over a range of time (a table, JSON or CSV), push
//! CSV / JSON Lines files of events, run connectors, manage API keys and check the server's
//! health. Every command talks gRPC to `cxmd` (`--addr`, `CXM_ADDR`) with the generated tonic
//! clients, sending `--api-key` / `CXM_API_KEY` as a bearer token.
//!
//! Exit codes: 0 on success, 1 when the server refused or failed (or a sync failed, or rows were
//! not stored), 2 for a wrong command line.

#![forbid(unsafe_code)]

mod alerts;
mod catalog;
mod compare;
mod connection;
mod connectors;
mod drivers;
mod goals;
mod grid;
mod ingest;
mod keys;
mod query;
mod records;
mod render;
mod rows;
mod style;
mod table;
mod times;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use connection::{CliError, Connection, ConnectionArgs};
use render::OutputFormat;

/// cxm: customer-experience metrics from cxmd, at the command line.
#[derive(Parser, Debug)]
#[command(name = "cxm", version, propagate_version = true, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  cxm health
  cxm metrics
  cxm query nps --from 2026-01-01 --to 2027-01-01 --every month \\
    --tz Europe/Paris --by touchpoint
  cxm ingest responses.csv tickets.jsonl
  cxm connectors sync nps-export
  CXM_ADDR=cx.example.com:443 CXM_API_KEY=... cxm --tls-ca ca.pem metrics

Each command's own options come first in its --help; the global options (address, API key, \
client TLS) follow under their own heading.";

/// The commands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Checks that cxmd is up and serving (exit 0 only when SERVING).
    #[command(after_help = "Examples:\n  cxm health\n  cxm health --addr 10.0.0.5:50051")]
    Health {
        /// A service name to check instead of the whole server, e.g. cx.v1.MetricsService.
        #[arg(long, default_value = "")]
        service: String,
    },
    /// The metric catalog, with each definition.
    #[command(after_help = "Examples:\n  cxm metrics\n  cxm metrics --format json")]
    Metrics {
        /// `table` for people, `json` for scripts.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// One metric over a time range: buckets in a time zone, filtered, grouped.
    #[command(after_help = "Examples:
  cxm query nps --from 2026-01-01 --to 2027-01-01 --every month --by touchpoint
  cxm query csat --from 2026-03-01 --to 2026-04-01 --every day \\
    --tz Europe/Paris --where region=emea,apac
  cxm query clv --from 2026-01-01 --to 2026-07-01 --every quarter \\
    --param gross_margin=0.8
  cxm query response_count --from 2026-01-01T00:00:00Z \\
    --to 2026-02-01T00:00:00Z --format csv

The range is [from, to); bare dates (YYYY-MM-DD) are midnight in --tz.")]
    Query(query::QueryArgs),
    /// One metric over two periods, per group: both values, the change, its 95% interval and
    /// p-value.
    #[command(after_help = "Examples:
  cxm compare nps --base-from 2026-01-01 --base-to 2026-04-01 \\
    --from 2026-04-01 --to 2026-07-01 --by touchpoint
  cxm compare csat --base-from 2026-03-01 --base-to 2026-04-01 \\
    --from 2026-04-01 --to 2026-05-01 --where region=emea --format json

Each period is one bucket, [from, to); bare dates are midnight in --tz. A change is significant
when its two-sided p-value is below 0.05.")]
    Compare(compare::CompareArgs),
    /// The events behind one point: its bucket [from, to) and one group.
    #[command(after_help = "Examples:
  cxm records nps --from 2026-04-06 --to 2026-04-13 --by touchpoint --group web
  cxm records backlog --from 2026-04-01 --to 2026-05-01 --all --format csv
  cxm records mrr --from 2026-04-01 --to 2026-05-01 --page-token <token>

One page of 100 keys by default; --all lists every page. Pages come from a snapshot taken at
the first page, so events ingested meanwhile never shift them.")]
    Records(records::RecordsArgs),
    /// Pushes CSV / JSON Lines files of events to cxmd (streamed in batches).
    #[command(after_help = "Examples:
  cxm ingest responses.csv tickets.jsonl --source typeform
  cxm ingest --preset qualtrics nps_export.csv
  cxm ingest --preset hubspot-deals --set time_zone=America/New_York deals.csv --dry-run
  cxm ingest --type ticket --set 'mapping=created_at=Opened;id=Ticket #' tickets.csv

Without --preset, columns (JSON keys) named like the fields of proto/cx/v1/events.proto (id, kind, \
score, responded_at, created_at, mrr_minor, ...) are read, ignoring case, `attributes.<key>` columns \
are attributes, and each file's type is told from its columns (score: survey responses, mrr_minor: \
subscriptions, created_at: tickets) unless --type is given. --set takes the file plugin's mapping \
options (docs/mapping.md). A file whose header lacks a required field, or whose first rows are all \
rejected, fails before anything is sent. Rows skipped by a row filter are counted, not errors; rows \
rejected (by cxm or cxmd) are listed by file:line and make the exit code 1.")]
    Ingest(ingest::IngestArgs),
    /// The connector plugins cxmd loaded (and those it could not load).
    #[command(after_help = "Examples:\n  cxm plugins")]
    Plugins,
    /// Connectors: plugins configured to pull data into cxm.
    #[command(after_help = "Examples:
  cxm connectors list
  cxm connectors create nps-export --plugin file --set path=/exports/nps.csv \\
    --every-seconds 300
  cxm connectors show nps-export
  cxm connectors sync nps-export
  cxm connectors cancel nps-export
  cxm connectors update nps-export --every-seconds 600
  cxm connectors delete nps-export")]
    Connectors {
        #[command(subcommand)]
        command: connectors::ConnectorCommand,
    },
    /// Goals: a metric target with a deadline, and where each stands (trend, projection, state).
    #[command(after_help = "Examples:
  cxm goals create nps-40 --metric nps --target 40 --direction at-least \\
    --start 2026-01-01 --deadline 2026-07-01 --where touchpoint=support
  cxm goals list
  cxm goals show nps-40 --at 2026-03-15
  cxm goals delete nps-40")]
    Goals {
        #[command(subcommand)]
        command: goals::GoalCommand,
    },
    /// Which values of a dimension drag a metric down, and the recurring revenue at risk there.
    #[command(after_help = "Examples:
  cxm drivers nps --by touchpoint --from 2026-01-01 --to 2026-04-01
  cxm drivers reopen_rate --by tag --from 2026-03-01 --to 2026-04-01 --min-count 20 --format csv")]
    Drivers(drivers::DriversArgs),
    /// API keys (needs an admin key).
    #[command(after_help = "Examples:
  cxm keys create --role read --name dashboard
  cxm keys list
  cxm keys revoke k_3f9a1c2b")]
    Keys {
        #[command(subcommand)]
        command: keys::KeyCommand,
    },
    /// Alerts: detractors, low CSAT, bad ticket ratings, churn, goal changes, as they are raised.
    #[command(after_help = "Examples:
  cxm alerts watch
  cxm alerts watch --kind churn --after 42 --format json")]
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertCommand,
    },
    /// Prints a shell completion script.
    #[command(after_help = "Examples:
  cxm completions bash > ~/.local/share/bash-completion/completions/cxm
  cxm completions zsh > \"${fpath[1]}/_cxm\"
  cxm completions fish > ~/.config/fish/completions/cxm.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

async fn health(connection: &Connection, service: &str) -> Result<(), CliError> {
    let answer = connection
        .health()
        .check(HealthCheckRequest { service: service.to_owned() })
        .await
        .map_err(|s| connection.explain(&s))?
        .into_inner();
    let status = ServingStatus::try_from(answer.status).unwrap_or(ServingStatus::Unknown);
    let what = if service.is_empty() { format!("cxmd at {}", connection.addr) } else { service.to_owned() };
    if status == ServingStatus::Serving {
        style::emit(&format!("{what}: {}\n", style::Style::stdout().green("SERVING")));
        Ok(())
    } else {
        Err(CliError::failure(format!("{what} is {}, not SERVING", status.as_str_name())))
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Completions { shell } = &cli.command {
        // Into a buffer first: written straight to stdout, a closed pipe would panic inside clap.
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "cxm", &mut script);
        style::emit(&String::from_utf8_lossy(&script));
        return Ok(());
    }
    if let Command::Ingest(args) = &cli.command {
        // The files are checked (and a dry run shown) before connecting: nothing is sent unless
        // every file fits its mapping.
        let files = ingest::prepare(args)?;
        if args.dry_run {
            return ingest::dry_run(args, &files);
        }
        let connection = Connection::open(&cli.connection).await?;
        return ingest::run(&connection, args, files).await;
    }
    let connection = Connection::open(&cli.connection).await?;
    match &cli.command {
        Command::Health { service } => health(&connection, service).await,
        Command::Metrics { format } => catalog::run(&connection, *format).await,
        Command::Query(args) => query::run(&connection, args).await,
        Command::Compare(args) => compare::run(&connection, args).await,
        Command::Records(args) => records::run(&connection, args).await,
        Command::Ingest(_) => Ok(()), // handled above
        Command::Plugins => connectors::plugins(&connection).await,
        Command::Connectors { command } => connectors::run(&connection, command).await,
        Command::Keys { command } => keys::run(&connection, command).await,
        Command::Alerts { command } => alerts::run(&connection, command).await,
        Command::Goals { command } => goals::run(&connection, command).await,
        Command::Drivers(args) => drivers::run(&connection, args).await,
        Command::Completions { .. } => Ok(()),
    }
}

/// A reader that closed the pipe (`cxm … | head -1`) ends the output quietly. Our own output goes
/// through `style::emit`, which stops without an error; this catches the `println!`s elsewhere,
/// whose panic on a closed stdout would otherwise print a backtrace hint.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{} {error}", style::Style::stderr().red("error:"));
            ExitCode::from(error.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
