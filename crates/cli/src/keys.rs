//! `cxm keys …`: API keys and their roles (admin role needed).

use clap::{Subcommand, ValueEnum};
use cxm_proto::v1::{CreateKeyRequest, ListKeysRequest, RevokeKeyRequest, Role};

use crate::connection::{CliError, Connection};
use crate::style::Style;
use crate::times;

/// What a key may do.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyRole {
    /// Metrics and listings.
    Read,
    /// Ingest.
    Ingest,
    /// Everything: connectors, syncs, keys.
    Admin,
}

impl KeyRole {
    fn role(self) -> Role {
        match self {
            Self::Read => Role::Read,
            Self::Ingest => Role::Ingest,
            Self::Admin => Role::Admin,
        }
    }
}

fn role_name(role: i32) -> String {
    Role::try_from(role)
        .map_or_else(|_| "unknown".into(), |r| r.as_str_name().trim_start_matches("ROLE_").to_lowercase())
}

/// `cxm keys` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// Creates a key and prints its secret, once.
    Create {
        /// What it may do.
        #[arg(long, value_enum)]
        role: KeyRole,
        /// Who or what will use it (1 to 64 characters).
        #[arg(long)]
        name: String,
    },
    /// Every key that is not revoked (without secrets).
    List,
    /// Revokes a key: calls with it are refused at once.
    Revoke {
        /// The key's id, e.g. `k_3f9a1c2b` (see `cxm keys list`).
        id: String,
    },
}

/// Runs `cxm keys …`.
pub(crate) async fn run(connection: &Connection, command: &KeyCommand) -> Result<(), CliError> {
    let mut client = connection.keys();
    let explain = |s: tonic::Status| connection.explain(&s);
    let style = Style::stdout();
    match command {
        KeyCommand::Create { role, name } => {
            let answer = client
                .create_key(CreateKeyRequest { name: name.clone(), role: role.role() as i32 })
                .await
                .map_err(explain)?
                .into_inner();
            let id = answer.key.as_ref().map(|k| k.id.as_str()).unwrap_or_default();
            println!("created key {id} ({}) for {name}", role_name(role.role() as i32));
            println!("secret: {}", style.bold(&answer.secret));
            println!(
                "{}",
                style.yellow("store the secret now: cxmd keeps only a hash. Use it with CXM_API_KEY=<secret>.")
            );
        }
        KeyCommand::List => {
            let answer = client.list_keys(ListKeysRequest {}).await.map_err(explain)?.into_inner();
            if answer.keys.is_empty() {
                println!("no keys (with none, cxmd serves on loopback only and asks for no key)");
            }
            let width = answer.keys.iter().map(|k| k.id.len()).max().unwrap_or(0);
            for key in &answer.keys {
                let created = key.created_at.as_ref().map_or_else(String::new, times::rfc3339);
                println!(
                    "{}  {:<6}  {}  {}",
                    style.bold(&format!("{:<width$}", key.id)),
                    role_name(key.role),
                    style.dim(&created),
                    key.name
                );
            }
        }
        KeyCommand::Revoke { id } => {
            client.revoke_key(RevokeKeyRequest { id: id.clone() }).await.map_err(explain)?;
            println!("revoked key {id}");
        }
    }
    Ok(())
}
