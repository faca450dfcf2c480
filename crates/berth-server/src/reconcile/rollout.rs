//! One app's step: restart crashed instances (with backoff), create missing
//! ones, health-check them, swap the routes when a release (or generation) is
//! all healthy, and retire what is obsolete. A release still rolling out fails
//! as a whole when one of its instances crashes or fails its check: its
//! instances are retired and the previous release keeps (or goes back to) serving.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::health::HealthCheck;
use berth_runtime::{HttpProbe, Instance, InstanceSpec, InstanceState};
use berth_store::{AppRecord, ReleaseRecord, NON_FORMATION_TYPES};

use super::plan::{plan, Slot};
use super::tracking::Tracked;
use super::{dyno_env, labels, AppOutcome, ReconcileError, Reconciler, PROFILE_WRAPPER};

/// How soon a task comes back while instances boot: health is polled, not slept on.
const POLL: Duration = Duration::from_millis(40);
/// One TCP readiness probe may take this long.
const TCP_PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// Log lines of a failing instance quoted in the failure reason.
const FAILURE_LOG_LINES: usize = 20;

enum Health {
    Healthy,
    Waiting(Duration),
    Unhealthy(String),
}

fn dyno_of(instance: &Instance) -> String {
    instance.label(labels::DYNO).unwrap_or("?").to_string()
}

fn release_of(instance: &Instance) -> Option<i64> {
    instance.label(labels::RELEASE).and_then(|v| v.parse().ok())
}

fn is_web(instance: &Instance) -> bool {
    instance.label(labels::PROCESS) == Some("web")
}

fn exit_reason(instance: &Instance) -> String {
    match instance.exit_code() {
        Some(137) => "killed (exit status 137: out of memory or SIGKILL)".to_string(),
        Some(code) => format!("exited with status {code}"),
        None => "stopped".to_string(),
    }
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl Reconciler {
    pub(crate) async fn reconcile_app(self: &Arc<Self>, app: &AppRecord) -> Result<AppOutcome, ReconcileError> {
        let mut outcome = AppOutcome::default();
        let release = self.store.current_release(&app.id).await?;
        let formation = self.store.list_formation(&app.id).await?;
        let slots: Vec<Slot> = if release.image.is_some() {
            formation
                .iter()
                .filter(|f| !NON_FORMATION_TYPES.contains(&f.process_type.as_str()))
                .filter(|f| release.process_types.contains_key(&f.process_type))
                .flat_map(|f| {
                    (1..=f.quantity).map(|index| Slot {
                        process: f.process_type.clone(),
                        index,
                        release: release.version,
                        generation: f.restart_generation,
                        size: f.size.clone(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let (_, check) = self.effective_check(app, &release).await?;
        let rolling_out = release.deployed_at.is_none();

        let matchable = self.live_instances(app).await?;
        let replacing = self.replacing.lock().unwrap().clone();
        let (to_replace, matchable): (Vec<Instance>, Vec<Instance>) =
            matchable.into_iter().partition(|i| replacing.contains(&i.id));
        let mut plan = plan(&slots, &matchable);
        plan.obsolete.extend(to_replace);

        // 1. Crashed instances in desired slots: restart after their backoff.
        for id in &plan.start {
            let Some(instance) = matchable.iter().find(|i| &i.id == id) else { continue };
            let dyno = dyno_of(instance);
            if instance.state == InstanceState::Created {
                // Created but never started: a server stop came between the two steps.
                if let Err(e) = self.runtime.start(id).await {
                    tracing::warn!(app = %app.name, %dyno, error = %e, "could not start instance");
                }
                self.tracked.lock().unwrap().insert(id.clone(), Tracked::booting(Instant::now()));
                outcome.again(POLL);
                continue;
            }
            if rolling_out && release_of(instance) == Some(release.version) {
                let reason = format!("{dyno} {} during the rollout", exit_reason(instance));
                self.fail_rollout(app, &release, Some(instance), &reason).await;
                outcome.again(Duration::ZERO);
                return Ok(outcome);
            }
            let now = Instant::now();
            let (wait, new_crash) = {
                let mut tracked = self.tracked.lock().unwrap();
                let t = tracked.entry(id.clone()).or_insert_with(|| Tracked::booting(now));
                match &t.crash {
                    Some(crash) => (crash.restart_at.saturating_duration_since(now), None),
                    None => {
                        let delay = t.record_crash(now, instance.exit_code());
                        (delay, Some((exit_reason(instance), delay)))
                    }
                }
            };
            if let Some((reason, delay)) = new_crash {
                self.events.emit(
                    &app.name,
                    &dyno,
                    format!("Process {reason}; state changed from up to crashed; restarting in {}s", delay.as_secs()),
                );
            }
            if !wait.is_zero() {
                outcome.again(wait);
                continue;
            }
            match self.runtime.start(id).await {
                Ok(()) => {
                    let restarts = {
                        let mut tracked = self.tracked.lock().unwrap();
                        let t = tracked.entry(id.clone()).or_insert_with(|| Tracked::booting(Instant::now()));
                        t.restarted(Instant::now());
                        t.restarts
                    };
                    self.events.emit(
                        &app.name,
                        &dyno,
                        format!("Restarting (restart {restarts}); state changed from crashed to starting"),
                    );
                }
                Err(e) => tracing::warn!(app = %app.name, %dyno, error = %e, "could not restart instance"),
            }
            outcome.again(POLL);
        }

        // 2. Missing instances.
        let mut created = Vec::new();
        if !plan.create.is_empty() {
            self.runtime.ensure_network(&self.network(app), &self.network_labels(app)).await?;
        }
        for slot in &plan.create {
            let dyno = slot.dyno();
            match self.runtime.run(&self.spec(app, &release, slot)).await {
                Ok(id) => {
                    self.tracked.lock().unwrap().insert(id.clone(), Tracked::booting(Instant::now()));
                    let command = release.process_types.get(&slot.process).filter(|c| !c.trim().is_empty());
                    let what = command.map_or("the image's command".to_string(), |c| format!("`{c}`"));
                    self.events.emit(&app.name, &dyno, format!("Starting process with {what} (v{})", release.version));
                    created.push(id);
                }
                Err(e) if rolling_out => {
                    self.fail_rollout(app, &release, None, &format!("{dyno} could not start: {e}")).await;
                    outcome.again(Duration::ZERO);
                    return Ok(outcome);
                }
                Err(e) => {
                    tracing::warn!(app = %app.name, %dyno, error = %e, "could not start instance");
                    outcome.again(Duration::from_secs(1));
                }
            }
        }
        let current = if created.is_empty() {
            matchable
        } else {
            let replacing = self.replacing.lock().unwrap().clone();
            self.live_instances(app).await?.into_iter().filter(|i| !replacing.contains(&i.id)).collect()
        };
        let desired_ids: HashSet<&str> =
            plan.keep.iter().map(|(_, id)| id.as_str()).chain(created.iter().map(String::as_str)).collect();
        let desired: Vec<&Instance> = current.iter().filter(|i| desired_ids.contains(i.id.as_str())).collect();

        // 3. Health of desired instances that are not healthy yet.
        let unproven: Vec<&Instance> = {
            let tracked = self.tracked.lock().unwrap();
            desired
                .iter()
                .copied()
                .filter(|i| i.state == InstanceState::Running)
                .filter(|i| !tracked.get(&i.id).is_some_and(|t| t.healthy || t.crash.is_some()))
                .collect()
        };
        let results = futures_util::future::join_all(unproven.iter().map(|i| self.check_health(app, i, &check))).await;
        for (instance, health) in unproven.iter().zip(results) {
            let dyno = dyno_of(instance);
            match health {
                Health::Healthy => {
                    let mut tracked = self.tracked.lock().unwrap();
                    let t = tracked.entry(instance.id.clone()).or_insert_with(|| Tracked::booting(Instant::now()));
                    let from = t.state();
                    t.mark_healthy(Instant::now(), self.backend(instance).map(|b| b.addr));
                    drop(tracked);
                    self.events.emit(&app.name, &dyno, format!("State changed from {from} to up"));
                }
                Health::Waiting(after) => outcome.again(after.max(Duration::from_millis(5))),
                Health::Unhealthy(reason) => {
                    let reason = format!("{dyno} {reason}");
                    if rolling_out && release_of(instance) == Some(release.version) {
                        self.fail_rollout(app, &release, Some(instance), &reason).await;
                        outcome.again(Duration::ZERO);
                        return Ok(outcome);
                    }
                    // A deployed release: the instance is restarted like a crash (Heroku's R10).
                    let delay = {
                        let mut tracked = self.tracked.lock().unwrap();
                        let t = tracked.entry(instance.id.clone()).or_insert_with(|| Tracked::booting(Instant::now()));
                        t.record_crash(Instant::now(), None)
                    };
                    self.events.emit(
                        &app.name,
                        &dyno,
                        format!("{reason}; stopping it, restart in {}s", delay.as_secs()),
                    );
                    if let Err(e) = self.runtime.stop(&instance.id, Duration::ZERO).await {
                        tracing::warn!(app = %app.name, %dyno, error = %e, "could not stop unhealthy instance");
                    }
                    outcome.again(delay);
                }
            }
        }

        // 4. Routes: swap to the desired web instances once they are all healthy;
        // until then whatever served keeps serving.
        let mut wanted: HashMap<&str, usize> = HashMap::new();
        for slot in &slots {
            *wanted.entry(slot.process.as_str()).or_default() += 1;
        }
        let (ready, backends) = {
            let tracked = self.tracked.lock().unwrap();
            let healthy = |i: &Instance| {
                i.state == InstanceState::Running && tracked.get(&i.id).is_some_and(|t| t.healthy && t.crash.is_none())
            };
            let mut ready: HashMap<&str, usize> = HashMap::new();
            for i in desired.iter().filter(|i| healthy(i)) {
                *ready.entry(i.label(labels::PROCESS).unwrap_or_default()).or_default() += 1;
            }
            let web_ready = ready.get("web") == wanted.get("web");
            let desired_web = desired.iter().copied().filter(|i| is_web(i) && healthy(i));
            let old_serving: Vec<&Instance> = plan.obsolete.iter().filter(|i| is_web(i) && healthy(i)).collect();
            let backends: Vec<_> = if web_ready || old_serving.is_empty() {
                desired_web.filter_map(|i| self.backend(i)).collect()
            } else {
                let routed = self.routed(app);
                old_serving
                    .into_iter()
                    .chain(desired_web)
                    .filter_map(|i| self.backend(i))
                    .filter(|b| routed.contains(b))
                    .collect()
            };
            (ready, backends)
        };
        self.set_routes(app, backends);
        // A process type is ready when each of its slots has a healthy instance
        // (types the formation no longer wants are ready: nothing replaces them).
        let type_ready = |process: &str| ready.get(process) == wanted.get(process);
        let all_ready = wanted.keys().all(|process| type_ready(process));

        // 5. Done: record the deploy, retire what the new instances replace.
        if all_ready && rolling_out {
            self.store.mark_release_deployed(&release.id).await?;
            if release.image.is_some() {
                let instances = desired.len();
                self.events.emit(
                    &app.name,
                    "api",
                    format!("Release v{} deployed ({instances} healthy)", release.version),
                );
                self.spawn_image_gc(app.clone());
            }
        }
        for instance in &plan.obsolete {
            if all_ready || type_ready(instance.label(labels::PROCESS).unwrap_or_default()) {
                self.retire(app, instance);
            }
        }
        if !all_ready {
            // A safety net: booting and backoff already asked for their own wake-ups.
            outcome.again(Duration::from_secs(1));
        }
        Ok(outcome)
    }

    /// The app's instances minus those being retired.
    async fn live_instances(&self, app: &AppRecord) -> Result<Vec<Instance>, ReconcileError> {
        let all = self.runtime.list(&[(labels::APP_ID, app.id.as_str())]).await?;
        let retiring = self.retiring.lock().unwrap();
        // One-off containers (`berth run`) carry the app id but not the namespace label: not ours.
        Ok(all.into_iter().filter(|i| !retiring.contains(&i.id) && i.label(labels::NAMESPACE).is_some()).collect())
    }

    /// `checks:set` wins over the release's app.json; else TCP with the server's boot timeout.
    /// The check `release`'s instances must pass and where it comes from: `app`
    /// (`checks:set`), else `app.json` (the release's), else `default` (TCP with
    /// the server's boot timeout).
    pub(crate) async fn effective_check(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
    ) -> Result<(&'static str, HealthCheck), ReconcileError> {
        if let Some(check) = self.store.app_health_check(&app.id).await? {
            return Ok(("app", check));
        }
        Ok(match &release.health_check {
            Some(check) => ("app.json", check.clone()),
            None => (
                "default",
                HealthCheck { boot_timeout: self.config.boot_timeout.as_secs_f64(), ..HealthCheck::default() },
            ),
        })
    }

    async fn check_health(&self, app: &AppRecord, instance: &Instance, check: &HealthCheck) -> Health {
        if !is_web(instance) {
            // Other process types have no port: running is healthy.
            return Health::Healthy;
        }
        let now = Instant::now();
        let t = {
            let mut tracked = self.tracked.lock().unwrap();
            tracked.entry(instance.id.clone()).or_insert_with(|| Tracked::booting(now)).clone()
        };
        let boot_timeout = seconds(check.boot_timeout);
        if now.duration_since(t.booted_at) > boot_timeout {
            let why = t.last_failure.unwrap_or_else(|| "nothing accepted connections on $PORT".to_string());
            return Health::Unhealthy(format!("did not become healthy within {}s: {why}", check.boot_timeout));
        }
        let Some(backend) = self.backend(instance) else { return Health::Waiting(POLL) };
        let Some(path) = &check.path else {
            return if self.runtime.accepts_tcp(backend.addr, TCP_PROBE_TIMEOUT).await {
                Health::Healthy
            } else {
                Health::Waiting(POLL)
            };
        };
        let port_open_at = match t.port_open_at {
            Some(at) => at,
            None if self.runtime.accepts_tcp(backend.addr, TCP_PROBE_TIMEOUT).await => {
                self.update(&instance.id, |t| t.port_open_at = Some(now));
                now
            }
            None => return Health::Waiting(POLL),
        };
        let first_attempt = port_open_at + seconds(check.initial_delay);
        let next = t.next_attempt.max(first_attempt);
        if now < next {
            return Health::Waiting(next - now);
        }
        let host = format!("{}.{}", app.name, self.config.domain);
        let failure = match self.runtime.probe_http(backend.addr, &host, path, seconds(check.timeout)).await {
            HttpProbe::Status(status) if status == check.status => return Health::Healthy,
            HttpProbe::Status(status) => format!("GET {path} answered {status} (expected {})", check.status),
            HttpProbe::Failed(why) => format!("GET {path} failed: {why}"),
            HttpProbe::Refused => return Health::Waiting(POLL),
        };
        let interval = seconds(check.interval);
        let mut attempts = 0;
        self.update(&instance.id, |t| {
            t.failed_attempts += 1;
            attempts = t.failed_attempts;
            t.last_failure = Some(failure.clone());
            t.next_attempt = Instant::now() + interval;
        });
        if attempts >= check.attempts {
            Health::Unhealthy(format!("failed its health check {attempts} times: {failure}"))
        } else {
            Health::Waiting(interval)
        }
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Tracked)) {
        if let Some(t) = self.tracked.lock().unwrap().get_mut(id) {
            change(t);
        }
    }

    /// Fails a release that was rolling out: records why (with the failing
    /// instance's last log lines) and retires its instances; the next step
    /// converges back to the previous release, which never stopped serving.
    async fn fail_rollout(
        self: &Arc<Self>,
        app: &AppRecord,
        release: &ReleaseRecord,
        culprit: Option<&Instance>,
        reason: &str,
    ) {
        let mut text = reason.to_string();
        if let Some(instance) = culprit {
            match self.runtime.tail_logs(&instance.id, FAILURE_LOG_LINES).await {
                Ok(lines) if !lines.is_empty() => {
                    text.push_str(&format!("\nLast log lines of {}:", dyno_of(instance)));
                    for line in lines {
                        text.push_str("\n  ");
                        text.push_str(&line);
                    }
                }
                Ok(_) => text.push_str(&format!("\n{} wrote no output.", dyno_of(instance))),
                Err(e) => tracing::debug!(error = %e, "no logs for the failure report"),
            }
        }
        if let Err(e) = self.store.fail_release(&release.id, &text).await {
            tracing::warn!(app = %app.name, error = %e, "could not record the failed release");
        }
        self.events.emit(&app.name, "api", format!("Release v{} failed: {reason}", release.version));
        let version = release.version.to_string();
        if let Ok(instances) = self.live_instances(app).await {
            for instance in instances.iter().filter(|i| i.label(labels::RELEASE) == Some(version.as_str())) {
                self.retire(app, instance);
            }
        }
    }

    fn spec(&self, app: &AppRecord, release: &ReleaseRecord, slot: &Slot) -> InstanceSpec {
        let dyno = slot.dyno();
        let mut labels = self.network_labels(app);
        labels.extend([
            (labels::RELEASE.to_string(), release.version.to_string()),
            (labels::PROCESS.to_string(), slot.process.clone()),
            (labels::INDEX.to_string(), slot.index.to_string()),
            (labels::GENERATION.to_string(), slot.generation.to_string()),
            (labels::DYNO.to_string(), dyno.clone()),
        ]);
        let env = dyno_env(release, self.config.app_port, &dyno);
        let command = release.process_types.get(&slot.process).map(String::as_str).unwrap_or("");
        let (entrypoint, command) = if command.trim().is_empty() {
            (None, None)
        } else {
            // Procfile semantics: the command runs through a shell, replacing the image's
            // entrypoint, after sourcing the slug's `.profile.d` scripts (Heroku's rule).
            (
                Some(vec!["/bin/sh".to_string(), "-c".to_string(), PROFILE_WRAPPER.to_string()]),
                Some(vec![command.to_string()]),
            )
        };
        InstanceSpec {
            name: labels::container_name(&self.config.namespace, &app.name, &dyno),
            image: release.image.clone().unwrap_or_default(),
            entrypoint,
            command,
            env,
            labels,
            network: self.network(app),
            hostname: dyno,
            memory_bytes: berth_core::size::memory_bytes(&slot.size).unwrap_or(512 * 1024 * 1024),
        }
    }
}
