//! Overload protection: the door flow keeps priority.
//!
//! Every route is in one of three classes ([`class_of`]): the **door** flow (a holder's
//! code as JSON or as the HTML code page, a dependant's code, check-in, leave,
//! checkpoint-code verification, the trust list checkpoints verify with), **probes**
//! (`/healthz`), and **other** work (sign-in, consoles, history and receipts, venue
//! registration and posters, the OpenAPI document, evidence intake, the bulk API
//! included, and analytics as they come). Door requests and probes are never refused
//! here. Other requests get `503 overloaded` with `Retry-After` when the door is busy:
//! more door requests in flight than [`Limits::door_in_flight`], or door requests
//! waiting — more than a quarter of that many in flight — while the recent door latency
//! (an exponentially weighted mean) exceeds [`Limits::door_latency`] (a slow derivation
//! alone, with the door otherwise idle, sheds nothing), or door work is in flight while
//! the runtime's queue delay exceeds [`Limits::queue_delay`], or more other requests in
//! flight than [`Limits::other_in_flight`]. So other work is always shed before any
//! door request, and with no door work waiting everything is admitted again (the server
//! recovers by itself).
//!
//! **Queue delay.** Latency inside a handler does not see requests waiting for a
//! worker thread: on a saturated runtime a code display can spend most of its time
//! queued before its handler starts, while the handler itself stays fast. A probe task
//! ([`watch_queue`], started with the first request) sleeps a few milliseconds in a
//! loop and measures how late it wakes; that lateness is the time a ready task waits
//! for a worker, whatever fills the queue (console work, door work, the CPU taken by
//! blocking reads).
//!
//! **Console work runs at the lowest OS priority.** Shedding decides what is
//! admitted; what is admitted still competes for the CPU, and most of a console
//! request's CPU (a history's SQLite reads) is spent in blocking-pool threads the
//! runtime's queue never sees. So other work runs on a runtime of its own
//! ([`ConsoleRuntime`]: one worker, its blocking pool) whose threads run at nice 19:
//! when both want the CPU the kernel gives the door's threads about 98 % of it, and
//! with the door idle console work gets all of it.
//!
//! **Other work runs to its end.** Being spawned on that runtime (or, if it could
//! not be built, on the server's), other work is not cancelled when its client goes
//! away and the HTTP server drops the request: an official's approval of a district's
//! declaration, once appended, is followed by the re-derivation of every code it
//! changes (at 1,000,000 people, 15 s or more) even if the page was closed meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mingma_store::Store;

use crate::app::App;
use crate::error::AppError;

/// What kind of work a route is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Code display, check-in, leave, verification: never shed.
    Door,
    /// Health probes: never shed, not counted.
    Probe,
    /// Everything else: shed first.
    Other,
}

/// The class of a route template (axum's matched path, e.g. `/v/{token}`); unmatched
/// requests (`None`, answered 404) are other work.
pub fn class_of(route: Option<&str>) -> Class {
    match route {
        Some(
            "/api/v1/me/code"
            | "/api/v1/me/dependants/{key}/code"
            | "/api/v1/checkins"
            | "/api/v1/checkins/{id}/leave"
            | "/api/v1/verify"
            | "/.well-known/mingma/trust-list.json"
            | "/code"
            | "/dependants/{key}"
            | "/v/{token}"
            | "/v/{token}/for/{key}"
            | "/checkins/{id}/leave",
        ) => Class::Door,
        Some("/healthz") => Class::Probe,
        _ => Class::Other,
    }
}

/// When other work is shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Door requests in flight at or above which other work is shed.
    pub door_in_flight: u64,
    /// Recent door latency above which other work is shed while door work waits
    /// (more than a quarter of `door_in_flight` in flight).
    pub door_latency: Duration,
    /// Other requests in flight at or above which more other work is shed.
    pub other_in_flight: u64,
    /// Recent queue delay of the runtime (see the module) above which other work is
    /// shed while door work is in flight.
    pub queue_delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            door_in_flight: 64,
            door_latency: Duration::from_millis(10),
            other_in_flight: 16,
            queue_delay: Duration::from_millis(5),
        }
    }
}

/// How often the queue probe wakes.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Too many door requests in flight.
    DoorBusy,
    /// Door requests are slow.
    DoorSlow,
    /// Too much other work in flight.
    OtherBusy,
    /// Ready tasks wait too long for a worker while door work is in flight.
    Queued,
}

/// The runtime other work runs on: built on first use, one worker thread and its
/// blocking pool, every thread at nice [`CONSOLE_NICE`]. `None` inside if it could
/// not be built (then other work runs beside the door, as before).
#[derive(Debug, Default)]
pub struct ConsoleRuntime {
    runtime: OnceLock<Option<tokio::runtime::Runtime>>,
}

/// The nice value of the console runtime's threads: the lowest priority.
pub const CONSOLE_NICE: i32 = 19;

impl ConsoleRuntime {
    /// A handle to spawn other work on.
    pub fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("mingma-console")
                    .on_thread_start(lower_priority)
                    .enable_all()
                    .build()
                    .map_err(|e| tracing::error!(error = %e, "no console runtime: console work shares the door's"))
                    .ok()
            })
            .as_ref()
            .map(|r| r.handle().clone())
    }
}

impl Drop for ConsoleRuntime {
    fn drop(&mut self) {
        // Dropped from inside another runtime (a test's, the server's): its threads
        // are told to stop, not waited for.
        if let Some(Some(runtime)) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Sets the calling thread's nice value to [`CONSOLE_NICE`] (on Linux the nice
/// value is per thread: `setpriority(PRIO_PROCESS, 0, ...)` sets the caller's). A
/// failure leaves the thread at its priority.
fn lower_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, CONSOLE_NICE) {
        tracing::warn!(error = %e, "a console thread could not lower its priority");
    }
}

/// The calling thread's nice value (for tests).
pub fn thread_nice() -> Option<i32> {
    rustix::process::getpriority_process(None).ok()
}

/// The admission state shared by every request.
#[derive(Debug, Default)]
pub struct Admission {
    limits: Limits,
    door: AtomicU64,
    other: AtomicU64,
    /// Recent door latency in microseconds (weighted mean, weight 1/8 per request).
    door_latency_micros: AtomicU64,
    /// Recent queue delay in microseconds (weighted mean, weight 1/4 per probe).
    queue_delay_micros: AtomicU64,
    /// Whether the queue probe was started.
    watched: AtomicBool,
    shed: AtomicU64,
    /// Where admitted other work runs.
    console: ConsoleRuntime,
}

/// An admitted request; its drop ends it. Door tickets should be ended with
/// [`Ticket::finish`] so their latency counts.
#[derive(Debug)]
pub struct Ticket<'a> {
    admission: &'a Admission,
    class: Class,
}

impl Ticket<'_> {
    /// Ends the request, recording a door request's latency.
    pub fn finish(self, elapsed: Duration) {
        if self.class == Class::Door {
            let sample = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            let a = &self.admission.door_latency_micros;
            let old = a.load(Ordering::Relaxed);
            // Approximate under races (a lost update only drops one sample).
            let new = if sample >= old {
                old + (sample - old) / 8
            } else {
                old - (old - sample) / 8
            };
            a.store(new, Ordering::Relaxed);
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        match self.class {
            Class::Door => self.admission.door.fetch_sub(1, Ordering::AcqRel),
            Class::Other => self.admission.other.fetch_sub(1, Ordering::AcqRel),
            Class::Probe => 0,
        };
    }
}

impl Admission {
    /// Admission with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Where work off any request runs: the runtime of other work (lowest
    /// priority), or the current runtime if that could not be built.
    pub fn background(&self) -> tokio::runtime::Handle {
        self.console
            .handle()
            .unwrap_or_else(tokio::runtime::Handle::current)
    }

    /// Admits a request of `class`, or says why other work is shed now.
    pub fn admit(&self, class: Class) -> Result<Ticket<'_>, Shed> {
        match class {
            Class::Door => {
                self.door.fetch_add(1, Ordering::AcqRel);
            }
            Class::Probe => {}
            Class::Other => {
                let door = self.door.load(Ordering::Acquire);
                let why = if door >= self.limits.door_in_flight {
                    Some(Shed::DoorBusy)
                } else if door > self.limits.door_in_flight / 4
                    && self.door_latency() > self.limits.door_latency
                {
                    Some(Shed::DoorSlow)
                } else if door > 0 && self.queue_delay() > self.limits.queue_delay {
                    Some(Shed::Queued)
                } else if self.other.fetch_add(1, Ordering::AcqRel) >= self.limits.other_in_flight {
                    self.other.fetch_sub(1, Ordering::AcqRel);
                    Some(Shed::OtherBusy)
                } else {
                    None
                };
                if let Some(why) = why {
                    self.shed.fetch_add(1, Ordering::Relaxed);
                    return Err(why);
                }
            }
        }
        Ok(Ticket {
            admission: self,
            class,
        })
    }

    /// Door requests in flight.
    pub fn door_in_flight(&self) -> u64 {
        self.door.load(Ordering::Acquire)
    }

    /// Other requests in flight.
    pub fn other_in_flight(&self) -> u64 {
        self.other.load(Ordering::Acquire)
    }

    /// The recent door latency (weighted mean).
    pub fn door_latency(&self) -> Duration {
        Duration::from_micros(self.door_latency_micros.load(Ordering::Relaxed))
    }

    /// Requests shed so far.
    pub fn shed_count(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// The recent queue delay (weighted mean of the probe's samples).
    pub fn queue_delay(&self) -> Duration {
        Duration::from_micros(self.queue_delay_micros.load(Ordering::Relaxed))
    }

    /// One sample of the queue delay (by the probe).
    pub fn note_queue_delay(&self, late: Duration) {
        let sample = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        let a = &self.queue_delay_micros;
        let old = a.load(Ordering::Relaxed);
        let new = if sample >= old {
            old + (sample - old) / 4
        } else {
            old - (old - sample) / 4
        };
        a.store(new, Ordering::Relaxed);
    }

    /// `true` exactly once: whoever gets it starts the probe.
    fn start_watching(&self) -> bool {
        !self.watched.swap(true, Ordering::AcqRel)
    }
}

/// The queue probe: sleeps [`PROBE_EVERY`] in a loop and records in `owner`'s
/// admission how late it woke, until `owner` is gone.
pub async fn watch_queue<T>(owner: Weak<T>, admission: fn(&T) -> &Admission) {
    loop {
        let asked = Instant::now();
        tokio::time::sleep(PROBE_EVERY).await;
        let late = asked.elapsed().saturating_sub(PROBE_EVERY);
        let Some(owner) = owner.upgrade() else {
            return;
        };
        admission(&owner).note_queue_delay(late);
    }
}

/// The 503 answer to shed work: `{"code": "overloaded", ...}` with `Retry-After: 1`.
pub fn overloaded(why: Shed) -> Response {
    let message = match why {
        Shed::DoorBusy | Shed::DoorSlow => {
            "the service is busy showing codes and recording check-ins; try again in a moment"
        }
        Shed::OtherBusy | Shed::Queued => "the service is busy; try again in a moment",
    };
    let mut response = AppError::unavailable("overloaded", message).into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The middleware: admits or sheds by the route's class.
pub async fn admit<S: Store>(
    State(app): State<Arc<App<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let class = class_of(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str()),
    );
    if app.admission.start_watching() {
        tokio::spawn(watch_queue(Arc::downgrade(&app), |app: &App<S>| {
            &app.admission
        }));
    }
    let ticket = match app.admission.admit(class) {
        Ok(ticket) => ticket,
        Err(why) => {
            app.metrics.event("shed", class_name(why));
            return overloaded(why);
        }
    };
    let started = std::time::Instant::now();
    // Other work runs on a task of its own: on the console runtime, or on this one
    // if that could not be built. Besides its priority, that makes it run to its end
    // when the client goes away (the server then drops this future): an approval
    // appended, say, is followed by the re-derivation of every code it changes.
    let console = match class {
        Class::Other => Some(
            app.admission
                .console
                .handle()
                .unwrap_or_else(tokio::runtime::Handle::current),
        ),
        Class::Door | Class::Probe => None,
    };
    let response = match console {
        Some(console) => match console
            .spawn(mingma_store::at_low_priority(next.run(request)))
            .await
        {
            Ok(response) => response,
            Err(e) => AppError::internal(format!("console work failed: {e}")).into_response(),
        },
        None => next.run(request).await,
    };
    ticket.finish(started.elapsed());
    response
}

fn class_name(why: Shed) -> &'static str {
    match why {
        Shed::DoorBusy => "door_busy",
        Shed::DoorSlow => "door_slow",
        Shed::OtherBusy => "other_busy",
        Shed::Queued => "queued",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified() {
        for door in [
            "/api/v1/me/code",
            "/api/v1/checkins",
            "/api/v1/checkins/{id}/leave",
            "/api/v1/verify",
            "/code",
            "/v/{token}",
            "/checkins/{id}/leave",
        ] {
            assert_eq!(class_of(Some(door)), Class::Door, "{door}");
        }
        for other in [
            "/api/v1/signin",
            "/api/v1/me/history",
            "/api/v1/venues",
            "/api/v1/openapi.json",
            "/api/v1/evidence",
            "/api/v1/evidence/bulk",
            "/history",
            "/venues/{id}/poster.svg",
            "/venues/{id}/poster.png",
            "/",
        ] {
            assert_eq!(class_of(Some(other)), Class::Other, "{other}");
        }
        assert_eq!(class_of(None), Class::Other);
        assert_eq!(class_of(Some("/healthz")), Class::Probe);
    }

    fn limits() -> Limits {
        Limits {
            door_in_flight: 3,
            door_latency: Duration::from_millis(10),
            other_in_flight: 2,
            queue_delay: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn console_work_and_its_blocking_reads_run_at_the_lowest_priority() {
        let console = ConsoleRuntime::default();
        let handle = console.handle().expect("a console runtime");
        let (worker, blocking) = handle
            .spawn(async {
                let blocking = tokio::task::spawn_blocking(thread_nice).await.unwrap();
                (thread_nice(), blocking)
            })
            .await
            .unwrap();
        assert_eq!((worker, blocking), (Some(CONSOLE_NICE), Some(CONSOLE_NICE)));
        // The door's threads (this test's) keep theirs.
        assert_ne!(thread_nice(), Some(CONSOLE_NICE));
        // Dropped inside a runtime without a panic.
        drop(console);
    }

    #[test]
    fn a_long_queue_sheds_other_work_while_door_work_is_in_flight() {
        let a = Admission::new(limits());
        for _ in 0..16 {
            a.note_queue_delay(Duration::from_millis(30));
        }
        assert!(a.queue_delay() > Duration::from_millis(5));
        // Queued, but no door work: other work goes ahead (it is what queues).
        assert!(a.admit(Class::Other).is_ok());
        let door = a.admit(Class::Door).unwrap();
        assert_eq!(a.admit(Class::Other).unwrap_err(), Shed::Queued);
        // The queue drains: admitted again, the door still in flight.
        for _ in 0..32 {
            a.note_queue_delay(Duration::from_micros(200));
        }
        assert!(a.queue_delay() < Duration::from_millis(5));
        assert!(a.admit(Class::Other).is_ok());
        drop(door);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn the_probe_sees_a_blocked_worker_and_stops_with_its_owner() {
        let a = std::sync::Arc::new(Admission::new(limits()));
        let probe = tokio::spawn(watch_queue(Arc::downgrade(&a), |a: &Admission| a));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let idle = a.queue_delay();
        // The only worker blocked for 80 ms: the probe wakes at least that late.
        tokio::spawn(async { std::thread::sleep(Duration::from_millis(80)) });
        let mut highest = Duration::ZERO;
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(1));
            highest = highest.max(a.queue_delay());
        }
        assert!(idle < Duration::from_millis(5), "idle: {idle:?}");
        assert!(highest >= Duration::from_millis(10), "blocked: {highest:?}");
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), probe)
            .await
            .expect("the probe stops once its owner is gone")
            .unwrap();
    }

    #[test]
    fn other_work_is_shed_when_the_door_is_busy_and_door_work_never() {
        let a = Admission::new(limits());
        let doors: Vec<_> = (0..3).map(|_| a.admit(Class::Door).unwrap()).collect();
        assert_eq!(a.admit(Class::Other).unwrap_err(), Shed::DoorBusy);
        // The door itself is never refused, however busy.
        let more: Vec<_> = (0..100).map(|_| a.admit(Class::Door).unwrap()).collect();
        assert_eq!(a.door_in_flight(), 103);
        assert!(a.admit(Class::Probe).is_ok());
        drop(more);
        drop(doors);
        assert_eq!(a.door_in_flight(), 0);
        // Recovered: other work is admitted again.
        assert!(a.admit(Class::Other).is_ok());
        assert_eq!(a.shed_count(), 1);
    }

    #[test]
    fn slow_door_sheds_other_work_only_while_door_work_waits() {
        let a = Admission::new(limits());
        for _ in 0..64 {
            a.admit(Class::Door)
                .unwrap()
                .finish(Duration::from_millis(40));
        }
        assert!(a.door_latency() > Duration::from_millis(10));
        // Slow, but nothing at the door now: other work goes ahead.
        assert!(a.admit(Class::Other).is_ok());
        let door = a.admit(Class::Door).unwrap();
        assert_eq!(a.admit(Class::Other).unwrap_err(), Shed::DoorSlow);
        door.finish(Duration::from_millis(1));
        // Fast again: the mean falls below the limit and other work is admitted.
        for _ in 0..64 {
            let d = a.admit(Class::Door).unwrap();
            d.finish(Duration::from_micros(100));
        }
        let _door = a.admit(Class::Door).unwrap();
        assert!(a.door_latency() < Duration::from_millis(10));
        assert!(a.admit(Class::Other).is_ok());
    }

    #[test]
    fn one_slow_door_request_on_an_idle_server_sheds_nothing() {
        // A derivation that takes 80 ms (a debug build, a big store) is slow, not
        // overload: a sign-in beside it must go ahead.
        let a = Admission::new(Limits::default());
        for _ in 0..64 {
            a.admit(Class::Door)
                .unwrap()
                .finish(Duration::from_millis(80));
        }
        let _one = a.admit(Class::Door).unwrap();
        assert!(a.door_latency() > Limits::default().door_latency);
        assert!(a.admit(Class::Other).is_ok());
        // Many waiting at the door with the same latency: shed.
        let _waiting: Vec<_> = (0..16).map(|_| a.admit(Class::Door).unwrap()).collect();
        assert_eq!(a.admit(Class::Other).unwrap_err(), Shed::DoorSlow);
    }

    #[test]
    fn other_work_is_bounded_by_itself() {
        let a = Admission::new(limits());
        let one = a.admit(Class::Other).unwrap();
        let two = a.admit(Class::Other).unwrap();
        assert_eq!(a.admit(Class::Other).unwrap_err(), Shed::OtherBusy);
        assert_eq!(a.other_in_flight(), 2);
        drop(one);
        let _three = a.admit(Class::Other).unwrap();
        drop(two);
        assert_eq!(a.other_in_flight(), 1);
    }

    #[test]
    fn the_answer_is_503_overloaded_with_retry_after() {
        let r = overloaded(Shed::DoorBusy);
        assert_eq!(r.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers().get(RETRY_AFTER).unwrap(), "1");
    }
}
