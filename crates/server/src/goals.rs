//! `cx.v1.GoalService`: goals stored in the data dir, evaluated through the engine.

use std::sync::Arc;

use cxm_engine::{Engine, Stop, goals};
use cxm_proto::v1::goal_service_server::GoalService;
use cxm_proto::v1::{
    CreateGoalRequest, DeleteGoalRequest, DeleteGoalResponse, GetGoalRequest, Goal, GoalStatus, ListGoalsRequest,
    ListGoalsResponse,
};
use tonic::{Request, Response, Status};

use crate::error::{join_status, status};
use crate::gate::Admission;

/// Creates, evaluates and deletes goals.
pub(crate) struct GoalApi {
    pub(crate) engine: Arc<Engine>,
}

/// Runs `work` on a blocking thread with the call's stop; the admission slot is held until
/// the work has stopped.
pub(crate) async fn blocking<T, R>(
    engine: &Arc<Engine>,
    request: Request<T>,
    work: impl FnOnce(&Engine, T, &Stop) -> cxm_engine::Result<R> + Send + 'static,
) -> Result<Response<R>, Status>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let engine = Arc::clone(engine);
    let admission = Admission::of(&request);
    let request = request.into_inner();
    let answer = tokio::task::spawn_blocking(move || {
        let answer = work(&engine, request, &admission.stop);
        drop(admission);
        answer
    })
    .await
    .map_err(join_status)?
    .map_err(status)?;
    Ok(Response::new(answer))
}

#[tonic::async_trait]
impl GoalService for GoalApi {
    async fn create_goal(&self, request: Request<CreateGoalRequest>) -> Result<Response<Goal>, Status> {
        blocking(&self.engine, request, |engine, request, stop| {
            let goal = request.goal.ok_or_else(|| cxm_engine::Error::invalid("goal", "is required"))?;
            goals::create(engine, goal, stop)
        })
        .await
    }

    async fn get_goal(&self, request: Request<GetGoalRequest>) -> Result<Response<GoalStatus>, Status> {
        blocking(&self.engine, request, |engine, request, stop| {
            let at = goals::instant(request.at.as_ref())?;
            goals::status(engine, &request.id, at, stop)
        })
        .await
    }

    async fn list_goals(&self, request: Request<ListGoalsRequest>) -> Result<Response<ListGoalsResponse>, Status> {
        blocking(&self.engine, request, |engine, request, stop| {
            let at = goals::instant(request.at.as_ref())?;
            Ok(ListGoalsResponse { goals: goals::statuses(engine, at, stop)? })
        })
        .await
    }

    async fn delete_goal(&self, request: Request<DeleteGoalRequest>) -> Result<Response<DeleteGoalResponse>, Status> {
        blocking(&self.engine, request, |engine, request, _| {
            goals::delete(engine, &request.id)?;
            Ok(DeleteGoalResponse {})
        })
        .await
    }
}
