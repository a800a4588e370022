//! The gRPC side: streaming the data set into `cxmd` and timing the query mix at the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use std::io::Read;
use std::path::Path;

use bytes::{BufMut, Bytes};
use cxm_proto::v1::metrics_service_client::MetricsServiceClient;
use cxm_proto::v1::{IngestResponse, QueryResponse};
use hdrhistogram::Histogram;
use http::uri::PathAndQuery;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

#[cfg(doc)]
use crate::data;
use crate::questions::Question;

/// Events per `IngestRequest`, as SPEC §7 fixes.
pub const BATCH: u64 = 1_000;

/// The ingest measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ingested {
    /// Events sent (and accepted).
    pub events: u64,
    /// Seconds from the first batch to the final acknowledgement.
    pub seconds: f64,
    /// Events per second.
    pub events_per_second: f64,
    /// Latency of the questions asked while the ingest ran (see [`During`]), all questions
    /// together; `None` when none were asked.
    pub queries_during: Option<Latency>,
}

/// Questions asked while the ingest runs: the mix in turn, one question every `every`, on a
/// connection of its own, until the last batch is acknowledged. Answers of INVALID_ARGUMENT
/// (a filter on an attribute no stored event has yet, at the very start) are not timed.
#[derive(Debug, Clone, Copy)]
pub struct During<'a> {
    /// The questions, asked one after the other, round and round.
    pub questions: &'a [Question],
    /// Time from the start of one question to the start of the next (a slow answer delays the
    /// next question, never queues more).
    pub every: Duration,
}

/// Batches read ahead of the stream.
const AHEAD: usize = 16;

/// Streams the encoded `IngestRequest`s of `batches` (see [`data::write_files`]) over one
/// `IngestStream` call; the server flushes every batch before it reads the next. The requests
/// are sent as the bytes they are, so the client spends no CPU on generating or encoding
/// events during the timed part (it shares the machine with the server). Fails unless all `n`
/// events are accepted. With `during`, questions are asked meanwhile and timed.
pub async fn ingest(url: &str, batches: &Path, n: u64, during: Option<During<'_>>) -> anyhow::Result<Ingested> {
    ingest_expecting(url, batches, n, during, false).await
}

/// Like [`ingest`] for the second time: fails unless all `n` events are duplicates.
pub async fn ingest_again(url: &str, batches: &Path, n: u64) -> anyhow::Result<Ingested> {
    ingest_expecting(url, batches, n, None, true).await
}

async fn ingest_expecting(
    url: &str,
    batches: &Path,
    n: u64,
    during: Option<During<'_>>,
    again: bool,
) -> anyhow::Result<Ingested> {
    let mut grpc = tonic::client::Grpc::new(channel(url).await?);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(AHEAD);
    let mut file = std::io::BufReader::new(std::fs::File::open(batches)?);
    let reader = std::thread::spawn(move || -> anyhow::Result<()> {
        let mut length = [0_u8; 4];
        loop {
            match file.read_exact(&mut length) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            let mut request = vec![0; u32::from_le_bytes(length) as usize];
            file.read_exact(&mut request)?;
            if tx.blocking_send(Bytes::from(request)).is_err() {
                return Ok(());
            }
        }
    });
    grpc.ready().await.context("cxmd not ready")?;
    let path = PathAndQuery::from_static("/cx.v1.IngestService/IngestStream");
    let started = Instant::now();
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    // The questions come from a thread and connection of their own, as a dashboard's would
    // come from another process: their latency is not that of this thread sending batches.
    let done = Arc::new(AtomicBool::new(false));
    let asking = during.map(|during| asker(url, during, Arc::clone(&done))).transpose()?;
    let response = grpc.client_streaming(tonic::Request::new(stream), path, RawCodec).await;
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let queries_during = match asking {
        Some(asking) => Some(asking.join().map_err(|_| anyhow::anyhow!("the question thread panicked"))??),
        None => None,
    };
    reader.join().map_err(|_| anyhow::anyhow!("the batch reader panicked"))??;
    let response: IngestResponse = response.context("IngestStream")?.into_inner();
    let counted = if again { response.duplicates } else { response.accepted };
    if counted != n || !response.rejections.is_empty() {
        bail!(
            "cxmd accepted {} and found {} duplicates of {n} events ({} rejected, first: {:?})",
            response.accepted,
            response.duplicates,
            response.rejections.len(),
            response.rejections.first()
        );
    }
    Ok(Ingested { events: n, seconds, events_per_second: n as f64 / seconds, queries_during })
}

/// Starts a thread that asks `during`'s questions in turn until `done`, and returns their
/// latencies (one histogram).
fn asker(
    url: &str,
    during: During<'_>,
    done: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<Latency>>> {
    let (url, questions, every) = (url.to_owned(), during.questions.to_vec(), during.every);
    let ask = move || crate::runtime()?.block_on(ask_until(&url, &questions, every, &done));
    Ok(std::thread::Builder::new().name("bench-questions".to_owned()).spawn(ask)?)
}

async fn ask_until(url: &str, questions: &[Question], every: Duration, done: &AtomicBool) -> anyhow::Result<Latency> {
    let mut client = MetricsServiceClient::new(channel(url).await?);
    let requests: Vec<_> = questions.iter().map(Question::request).collect();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for (question, request) in questions.iter().zip(&requests).cycle() {
        tick.tick().await;
        if done.load(Ordering::Relaxed) {
            break;
        }
        let started = Instant::now();
        match client.query(request.clone()).await {
            Ok(response) => {
                histogram.record(micros(started.elapsed()))?;
                drop(response);
            }
            // Until the first event with a filtered attribute is stored, that dimension is
            // unknown: not an answer to time.
            Err(status) if status.code() == tonic::Code::InvalidArgument => {}
            Err(status) => return Err(status).with_context(|| question.name),
        }
    }
    Ok(latency(&histogram))
}

/// Sends already-encoded messages as they are; decodes the `IngestResponse`.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = IngestResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = IngestResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<IngestResponse>, Status> {
        IngestResponse::decode(src).map(Some).map_err(|e| Status::internal(e.to_string()))
    }
}

/// Client latency of one question.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    /// Timed runs.
    pub runs: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Slowest run, milliseconds.
    pub max_ms: f64,
}

/// Untimed rounds of the whole mix before timing.
const WARM_UP_ROUNDS: u64 = 50;

/// Asks the questions in rounds — each round asks every question once, in order — first
/// [`WARM_UP_ROUNDS`] untimed, then `runs` timed, and returns per question its answer and its
/// latencies measured at the client, in a histogram (µs resolution). Rounds rather than one
/// question after another, so that a hiccup of the machine (or of a freshly started server) does
/// not all land on one question.
pub async fn query(url: &str, questions: &[Question], runs: u64) -> anyhow::Result<Vec<(QueryResponse, Latency)>> {
    let mut client = MetricsServiceClient::new(channel(url).await?);
    let requests: Vec<_> = questions.iter().map(Question::request).collect();
    let mut answers = Vec::new();
    for (question, request) in questions.iter().zip(&requests) {
        answers.push(client.query(request.clone()).await.with_context(|| question.name)?.into_inner());
    }
    let mut histograms = Vec::new();
    for _ in questions {
        histograms.push(Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?);
    }
    for round in 0..WARM_UP_ROUNDS + runs {
        for ((question, request), histogram) in questions.iter().zip(&requests).zip(&mut histograms) {
            let started = Instant::now();
            let response = client.query(request.clone()).await.with_context(|| question.name)?;
            let elapsed = started.elapsed();
            drop(response);
            if round >= WARM_UP_ROUNDS {
                histogram.record(micros(elapsed))?;
            }
        }
    }
    Ok(answers.into_iter().zip(histograms.iter().map(latency)).collect())
}

/// The figures of a histogram of µs.
fn latency(h: &Histogram<u64>) -> Latency {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
    Latency { runs: h.len(), p50_ms: ms(0.5), p99_ms: ms(0.99), max_ms: h.max() as f64 / 1_000.0 }
}

pub(crate) async fn channel(url: &str) -> anyhow::Result<tonic::transport::Channel> {
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?;
    endpoint.connect().await.with_context(|| format!("connecting to cxmd at {url}"))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
