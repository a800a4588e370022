//! `cx.v1.ConnectorService`.

use std::pin::Pin;

use cxm_connect::Connectors;
use cxm_proto::v1::connector_service_server::ConnectorService;
use cxm_proto::v1::{
    CancelSyncRequest, CancelSyncResponse, Connector, CreateConnectorRequest, DeleteConnectorRequest,
    DeleteConnectorResponse, GetConnectorRequest, ListConnectorsRequest, ListConnectorsResponse, ListPluginsRequest,
    ListPluginsResponse, SyncConnectorRequest, SyncProgress, UpdateConnectorRequest,
};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::error::connect_status;

/// Plugins and connectors.
pub(crate) struct ConnectorApi {
    pub(crate) connectors: Connectors,
}

impl ConnectorApi {
    /// Runs a blocking connector operation off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(Connectors) -> cxm_connect::Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        let connectors = self.connectors.clone();
        tokio::task::spawn_blocking(move || work(connectors))
            .await
            .map_err(crate::error::join_status)?
            .map_err(connect_status)
    }
}

type ProgressStream = Pin<Box<dyn Stream<Item = Result<SyncProgress, Status>> + Send>>;

#[tonic::async_trait]
impl ConnectorService for ConnectorApi {
    async fn list_plugins(&self, _: Request<ListPluginsRequest>) -> Result<Response<ListPluginsResponse>, Status> {
        Ok(Response::new(self.connectors.plugins()))
    }

    async fn create_connector(&self, request: Request<CreateConnectorRequest>) -> Result<Response<Connector>, Status> {
        let request = request.into_inner();
        Ok(Response::new(self.blocking(move |c| c.create(request)).await?))
    }

    async fn get_connector(&self, request: Request<GetConnectorRequest>) -> Result<Response<Connector>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(self.blocking(move |c| c.get(&name)).await?))
    }

    async fn list_connectors(
        &self,
        _: Request<ListConnectorsRequest>,
    ) -> Result<Response<ListConnectorsResponse>, Status> {
        let connectors = self.blocking(|c| c.list()).await?;
        Ok(Response::new(ListConnectorsResponse { connectors }))
    }

    async fn delete_connector(
        &self,
        request: Request<DeleteConnectorRequest>,
    ) -> Result<Response<DeleteConnectorResponse>, Status> {
        let name = request.into_inner().name;
        self.blocking(move |c| c.delete(&name)).await?;
        Ok(Response::new(DeleteConnectorResponse {}))
    }

    async fn update_connector(&self, request: Request<UpdateConnectorRequest>) -> Result<Response<Connector>, Status> {
        let request = request.into_inner();
        Ok(Response::new(self.blocking(move |c| c.update(request)).await?))
    }

    async fn cancel_sync(&self, request: Request<CancelSyncRequest>) -> Result<Response<CancelSyncResponse>, Status> {
        let name = request.into_inner().name;
        self.blocking(move |c| c.cancel(&name)).await?;
        Ok(Response::new(CancelSyncResponse {}))
    }

    type SyncConnectorStream = ProgressStream;

    async fn sync_connector(
        &self,
        request: Request<SyncConnectorRequest>,
    ) -> Result<Response<Self::SyncConnectorStream>, Status> {
        // The stream keeps its admission slot until it ends.
        let admission = crate::gate::Admission::of(&request);
        let name = request.into_inner().name;
        let progress = self.connectors.sync(&name).map_err(connect_status)?;
        let stream = tokio_stream::StreamExt::map(ReceiverStream::new(progress), move |progress| {
            let _slot = &admission;
            Ok(progress)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
