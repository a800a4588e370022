//! `cx.v1.KeyService`, and the offline `cxmd keys ...` commands over the same key file.

use std::sync::Arc;

use cxm_auth::{Key, KeyRing, Role as KeyRole};
use cxm_proto::v1::key_service_server::KeyService;
use cxm_proto::v1::{
    ApiKey, CreateKeyRequest, CreateKeyResponse, ListKeysRequest, ListKeysResponse, RevokeKeyRequest,
    RevokeKeyResponse, Role,
};
use tonic::{Request, Response, Status};

/// Manages API keys over gRPC (admin role, enforced by the gate).
pub(crate) struct KeyApi {
    pub(crate) keys: Arc<KeyRing>,
}

fn api_key(key: &Key) -> ApiKey {
    let role = match key.role {
        KeyRole::Read => Role::Read,
        KeyRole::Ingest => Role::Ingest,
        KeyRole::Admin => Role::Admin,
    };
    ApiKey {
        id: key.id.clone(),
        name: key.name.clone(),
        role: role as i32,
        created_at: Some(cxm_engine::time::timestamp(key.created_at)),
    }
}

fn status(error: cxm_auth::Error) -> Status {
    match error {
        cxm_auth::Error::Invalid(message) => Status::invalid_argument(message),
        cxm_auth::Error::NotFound(id) => Status::not_found(format!("no key with id {}", cxm_proto::clip::quote(&id))),
        cxm_auth::Error::File { .. } => {
            tracing::error!(%error, "key file");
            Status::internal("the key file cannot be written; see the server log")
        }
    }
}

#[tonic::async_trait]
impl KeyService for KeyApi {
    async fn create_key(&self, request: Request<CreateKeyRequest>) -> Result<Response<CreateKeyResponse>, Status> {
        let request = request.into_inner();
        let role = match Role::try_from(request.role) {
            Ok(Role::Read) => KeyRole::Read,
            Ok(Role::Ingest) => KeyRole::Ingest,
            Ok(Role::Admin) => KeyRole::Admin,
            _ => return Err(Status::invalid_argument("role: must be ROLE_READ, ROLE_INGEST or ROLE_ADMIN")),
        };
        let (key, secret) = self.keys.create(&request.name, role).map_err(status)?;
        tracing::info!(id = %key.id, name = %key.name, role = key.role.as_str(), "API key created");
        Ok(Response::new(CreateKeyResponse { key: Some(api_key(&key)), secret }))
    }

    async fn list_keys(&self, _: Request<ListKeysRequest>) -> Result<Response<ListKeysResponse>, Status> {
        let keys = self.keys.keys().map_err(status)?;
        Ok(Response::new(ListKeysResponse { keys: keys.iter().map(api_key).collect() }))
    }

    async fn revoke_key(&self, request: Request<RevokeKeyRequest>) -> Result<Response<RevokeKeyResponse>, Status> {
        let id = request.into_inner().id;
        self.keys.revoke(&id).map_err(status)?;
        tracing::info!(%id, "API key revoked");
        Ok(Response::new(RevokeKeyResponse {}))
    }
}

/// What `cxmd keys` does.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Creates a key and prints its secret (once).
    Create {
        /// read, ingest or admin.
        #[arg(long)]
        role: KeyRole,
        /// Who or what uses it.
        #[arg(long)]
        name: String,
    },
    /// Lists the keys (never their secrets).
    List,
    /// Revokes a key by id; calls with it are refused at once, also by a running server.
    Revoke {
        /// The key's id.
        id: String,
    },
}

/// Runs `cxmd keys ...` on the data dir's key file; returns the exit code.
pub(crate) fn run(data_dir: &std::path::Path, command: KeysCommand) -> std::process::ExitCode {
    let keys = KeyRing::open(data_dir);
    let done = match command {
        KeysCommand::Create { role, name } => keys.create(&name, role).map(|(key, secret)| {
            println!("created key {} ({}, role {})", key.id, key.name, key.role.as_str());
            println!("secret (shown once; cxm keeps only a hash): {secret}");
        }),
        KeysCommand::List => keys.keys().map(|all| {
            if all.is_empty() && keys.is_open().unwrap_or(false) {
                println!("no keys: cxmd serves on loopback only, without authentication");
            } else if all.is_empty() {
                println!("no keys left: every call but health checks is refused until a key is created");
            }
            for key in all {
                println!(
                    "{}\t{}\t{}\tcreated {}",
                    key.id,
                    key.role.as_str(),
                    key.name,
                    cxm_engine::time::timestamp(key.created_at)
                );
            }
        }),
        KeysCommand::Revoke { id } => keys.revoke(&id).map(|()| println!("revoked key {id}")),
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cxmd keys: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
