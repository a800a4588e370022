//! `cxm plugins` and `cxm connectors …`: what can pull data into cxm, and running it.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Subcommand;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{
    CancelSyncRequest, Connector, CreateConnectorRequest, DeleteConnectorRequest, GetConnectorRequest,
    ListConnectorsRequest, ListPluginsRequest, PluginKind, SyncConnectorRequest, SyncProgress, UpdateConnectorRequest,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::connection::{CliError, Connection};
use crate::style::{self, Style};
use crate::times;

/// `cxm connectors` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum ConnectorCommand {
    /// Every connector with its state.
    List,
    /// One connector: plugin, configuration (secrets redacted) and sync state.
    Show {
        /// The connector's name.
        name: String,
    },
    /// Creates a connector from a plugin and its configuration.
    #[command(
        after_help = "Examples:\n  cxm connectors create nps-export --plugin file \\\n    --set path=/exports/nps.csv --set source=typeform --set 'constants=kind=nps' --every-seconds 300\n  cxm connectors create desk --plugin zendesk --set subdomain=acme \\\n    --config-env api_token=ZENDESK_TOKEN --config-file email=/run/secrets/zendesk-email"
    )]
    Create {
        /// Its name: 1 to 64 of a-z, 0-9, `-` and `_`.
        name: String,
        /// The plugin it uses (see `cxm plugins`).
        #[arg(long)]
        plugin: String,
        /// The configuration values.
        #[command(flatten)]
        config: ConfigValues,
        /// Sync on its own every this many seconds (0: only on demand).
        #[arg(long, default_value_t = 0)]
        every_seconds: u64,
        /// How long one call into the plugin (a page) may take before the sync fails (0: 60 s).
        #[arg(long, default_value_t = 0)]
        pull_timeout_seconds: u64,
    },
    /// Changes a connector: the keys given replace those keys, the others (secrets too) keep
    /// their values; its cursor stays.
    #[command(
        after_help = "Examples:\n  cxm connectors update desk --config-env api_token=ZENDESK_TOKEN\n  cxm connectors update nps-export --every-seconds 600 --pull-timeout-seconds 120"
    )]
    Update {
        /// The connector's name.
        name: String,
        /// The configuration values to replace.
        #[command(flatten)]
        config: ConfigValues,
        /// Sync on its own every this many seconds (0: only on demand) [default: unchanged].
        #[arg(long)]
        every_seconds: Option<u64>,
        /// How long one call into the plugin may take (0: 60 s) [default: unchanged].
        #[arg(long)]
        pull_timeout_seconds: Option<u64>,
    },
    /// Stops a connector's running sync (the page being pulled is not stored; the cursor stays).
    Cancel {
        /// The connector's name.
        name: String,
    },
    /// Deletes a connector (the events it brought in stay).
    Delete {
        /// The connector's name.
        name: String,
    },
    /// Runs a sync now, showing its progress; exits non-zero when it fails.
    Sync {
        /// The connector's name.
        name: String,
    },
}

/// Configuration values from the command line, the environment or files — secrets need not
/// appear on the command line (where `ps` and shell history would show them).
#[derive(clap::Args, Debug)]
pub(crate) struct ConfigValues {
    /// A configuration value `key=value` (repeatable; see the plugin's keys in `cxm plugins`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// A configuration value read from an environment variable, `key=VARIABLE` (repeatable).
    #[arg(long = "config-env", value_name = "KEY=VARIABLE")]
    env: Vec<String>,
    /// A configuration value read from a file, `key=PATH` (repeatable; one trailing newline is
    /// dropped).
    #[arg(long = "config-file", value_name = "KEY=PATH")]
    file: Vec<String>,
}

fn split_pair<'a>(flag: &str, pair: &'a str) -> Result<(String, &'a str), CliError> {
    pair.split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| (k.trim().to_owned(), v))
        .ok_or_else(|| CliError::usage(format!("{flag} {pair:?} needs the form key=value")))
}

impl ConfigValues {
    /// The values by key; a key given twice is a usage error.
    fn collect(&self) -> Result<BTreeMap<String, String>, CliError> {
        let mut values = BTreeMap::new();
        let mut put = |key: String, value: String| {
            if values.insert(key.clone(), value).is_some() {
                return Err(CliError::usage(format!("configuration key {key} is given twice")));
            }
            Ok(())
        };
        for pair in &self.set {
            let (key, value) = split_pair("--set", pair)?;
            put(key, value.to_owned())?;
        }
        for pair in &self.env {
            let (key, variable) = split_pair("--config-env", pair)?;
            let value = std::env::var(variable).map_err(|_| {
                CliError::usage(format!(
                    "--config-env {key}={variable}: the environment variable {variable} is not set"
                ))
            })?;
            put(key, value)?;
        }
        for pair in &self.file {
            let (key, path) = split_pair("--config-file", pair)?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("--config-file {key}={path}: cannot read {path}: {e}")))?;
            let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
            put(key, value.to_owned())?;
        }
        Ok(values)
    }
}

fn kind_name(kind: i32) -> String {
    PluginKind::try_from(kind)
        .map(|k| k.as_str_name().trim_start_matches("PLUGIN_KIND_").to_ascii_lowercase())
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs `cxm plugins`.
pub(crate) async fn plugins(connection: &Connection) -> Result<(), CliError> {
    let answer = connection
        .connectors()
        .list_plugins(ListPluginsRequest {})
        .await
        .map_err(|s| connection.explain(&s))?
        .into_inner();
    let style = Style::stdout();
    if answer.plugins.is_empty() {
        println!("no plugins loaded (cxmd looks next to its executable and in --plugin-dir)");
    }
    for plugin in &answer.plugins {
        println!(
            "{}  {}",
            style.bold(&plugin.name),
            style.dim(&format!("{} · version {} · ABI {}", kind_name(plugin.kind), plugin.version, plugin.abi_version))
        );
        println!("    {}", plugin.description);
        for key in &plugin.config_keys {
            let mut flags = Vec::new();
            if key.required {
                flags.push("required".to_owned());
            }
            if key.secret {
                flags.push("secret".to_owned());
            }
            if !key.default_value.is_empty() {
                flags.push(format!("default {}", key.default_value));
            }
            let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) };
            println!("    --set {}=…{}  {}", key.name, style.dim(&flags), key.description);
        }
        println!("    {}", style.dim(&plugin.path));
    }
    for failure in &answer.failures {
        println!("{}  {}: {}", style.red("not loaded"), failure.path, failure.reason);
    }
    Ok(())
}

fn when(t: Option<&Timestamp>) -> String {
    t.map_or_else(|| "never".to_owned(), times::rfc3339)
}

fn describe(connector: &Connector, style: Style, full: bool) -> String {
    let state = if connector.syncing {
        style.yellow("syncing")
    } else if !connector.last_error.is_empty() {
        style.red("failed")
    } else if connector.last_success.is_some() {
        style.green("ok")
    } else {
        style.dim("never synced")
    };
    let schedule = match connector.sync_interval_seconds {
        0 => "on demand".to_owned(),
        n => format!("every {n} s"),
    };
    let mut out = format!(
        "{}  {} · plugin {} · {schedule} · {} events\n",
        style.bold(&connector.name),
        state,
        connector.plugin,
        connector.events
    );
    if !connector.last_error.is_empty() {
        out.push_str(&format!("    last error: {}\n", connector.last_error));
    }
    if full {
        out.push_str(&format!("    created:         {}\n", when(connector.created_at.as_ref())));
        out.push_str(&format!("    last sync start: {}\n", when(connector.last_sync_start.as_ref())));
        out.push_str(&format!("    last sync end:   {}\n", when(connector.last_sync_end.as_ref())));
        out.push_str(&format!("    last success:    {}\n", when(connector.last_success.as_ref())));
        let timeout = match connector.pull_timeout_seconds {
            0 => "60 s (default)".to_owned(),
            n => format!("{n} s"),
        };
        out.push_str(&format!("    pull timeout:    {timeout}\n"));
        for (key, value) in &connector.config {
            out.push_str(&format!("    {key} = {value}\n"));
        }
    }
    out
}

/// Runs `cxm connectors …`.
pub(crate) async fn run(connection: &Connection, command: &ConnectorCommand) -> Result<(), CliError> {
    let mut client = connection.connectors();
    let explain = |s: tonic::Status| connection.explain(&s);
    let style = Style::stdout();
    match command {
        ConnectorCommand::List => {
            let answer = client.list_connectors(ListConnectorsRequest {}).await.map_err(explain)?.into_inner();
            if answer.connectors.is_empty() {
                println!("no connectors yet (create one with cxm connectors create)");
            }
            for connector in &answer.connectors {
                print!("{}", describe(connector, style, false));
            }
        }
        ConnectorCommand::Show { name } => {
            let connector =
                client.get_connector(GetConnectorRequest { name: name.clone() }).await.map_err(explain)?.into_inner();
            print!("{}", describe(&connector, style, true));
        }
        ConnectorCommand::Create { name, plugin, config, every_seconds, pull_timeout_seconds } => {
            let request = CreateConnectorRequest {
                name: name.clone(),
                plugin: plugin.clone(),
                config: config.collect()?,
                sync_interval_seconds: *every_seconds,
                pull_timeout_seconds: *pull_timeout_seconds,
            };
            let connector = client.create_connector(request).await.map_err(explain)?.into_inner();
            println!("created connector {} (run it with: cxm connectors sync {})", connector.name, connector.name);
            print!("{}", describe(&connector, style, true));
        }
        ConnectorCommand::Delete { name } => {
            client.delete_connector(DeleteConnectorRequest { name: name.clone() }).await.map_err(explain)?;
            println!("deleted connector {name} (the events it brought in stay)");
        }
        ConnectorCommand::Update { name, config, every_seconds, pull_timeout_seconds } => {
            let config = config.collect()?;
            // What is not given stays: the current schedule and timeout fill the request.
            let current =
                client.get_connector(GetConnectorRequest { name: name.clone() }).await.map_err(explain)?.into_inner();
            let request = UpdateConnectorRequest {
                name: name.clone(),
                config,
                sync_interval_seconds: every_seconds.unwrap_or(current.sync_interval_seconds),
                pull_timeout_seconds: pull_timeout_seconds.unwrap_or(current.pull_timeout_seconds),
            };
            let connector = client.update_connector(request).await.map_err(explain)?.into_inner();
            println!("updated connector {} (its cursor stays)", connector.name);
            print!("{}", describe(&connector, style, true));
        }
        ConnectorCommand::Cancel { name } => {
            client.cancel_sync(CancelSyncRequest { name: name.clone() }).await.map_err(explain)?;
            println!("cancelled the sync of {name} (the pages it committed stay; the next sync resumes from them)");
        }
        ConnectorCommand::Sync { name } => sync(connection, name).await?,
    }
    Ok(())
}

fn counts(p: &SyncProgress) -> String {
    format!(
        "pages {} · accepted {} · updated {} · duplicates {} · stale {} · rejected {}",
        p.pages, p.accepted, p.updated, p.duplicates, p.stale, p.rejected
    )
}

/// Runs a sync, drawing its progress on a terminal, and prints the summary.
async fn sync(connection: &Connection, name: &str) -> Result<(), CliError> {
    let mut stream = connection
        .connectors()
        .sync_connector(SyncConnectorRequest { name: name.to_owned() })
        .await
        .map_err(|s| connection.explain(&s))?
        .into_inner();
    let bar = if style::progress_allowed() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(template) = ProgressStyle::with_template("{spinner} {elapsed} syncing {prefix}: {msg}") {
            bar.set_style(template);
        }
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let style = Style::stdout();
    let mut last = None;
    loop {
        let progress = match stream.message().await {
            Ok(Some(progress)) => progress,
            Ok(None) => break,
            Err(status) => {
                bar.finish_and_clear();
                return Err(connection.explain(&status));
            }
        };
        bar.set_message(counts(&progress));
        if !progress.message.is_empty() && !progress.done {
            bar.suspend(|| println!("  {}", style.dim(&progress.message)));
        }
        let done = progress.done;
        last = Some(progress);
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    let Some(last) = last.filter(|p| p.done) else {
        return Err(CliError::failure(format!(
            "the sync of {name} ended without a final report: cxmd may have stopped"
        )));
    };
    println!("{}", counts(&last));
    if !last.error.is_empty() {
        return Err(CliError::failure(format!("the sync of {name} failed: {}", last.error)));
    }
    if !last.message.is_empty() {
        println!("  {}", style.dim(&last.message));
    }
    println!("{}", style.green(&format!("synced {name}")));
    Ok(())
}
