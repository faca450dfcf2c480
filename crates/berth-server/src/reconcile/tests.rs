use std::sync::Arc;
use std::time::Duration;

use berth_core::health::HealthCheck;
use berth_core::ProcessTypes;
use berth_router::Router;
use berth_runtime::{FakeRuntime, Runtime};
use berth_store::{Cipher, NewRelease, Store, User};

use super::*;
use crate::config::ServerConfig;

struct Harness {
    store: Store,
    fake: Arc<FakeRuntime>,
    router: Arc<Router>,
    reconciler: Arc<Reconciler>,
    config: Arc<ServerConfig>,
    admin: User,
}

async fn harness() -> Harness {
    let store = Store::open_in_memory(Cipher::random()).await.unwrap();
    let admin = store.create_user("admin@berth.local", None, true).await.unwrap();
    let fake = Arc::new(FakeRuntime::with_images(&["img:1", "img:2", "img:3"]));
    let router = Router::new();
    let mut config = ServerConfig::new("/nonexistent".into());
    config.namespace = "t".into();
    config.boot_timeout = Duration::from_millis(300);
    config.drain_timeout = Duration::from_millis(200);
    let config = Arc::new(config);
    let runtime: Arc<dyn Runtime> = fake.clone();
    let reconciler = Reconciler::new(store.clone(), runtime, Arc::clone(&router), Arc::clone(&config));
    Harness { store, fake, router, reconciler, config, admin }
}

impl Harness {
    async fn deploy(&self, app: &str, image: &str, types: &[(&str, &str)]) {
        let app = self.store.app(app).await.unwrap();
        let types: ProcessTypes = types.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.store
            .create_release_from_current(&app.id, |cur| {
                Ok(NewRelease {
                    description: format!("Deploy {image}"),
                    image: Some(image.to_string()),
                    process_types: types,
                    config: cur.config.clone(),
                    user_id: self.admin.id.clone(),
                    health_check: None,
                })
            })
            .await
            .unwrap();
    }

    async fn instances(&self, app: &str) -> Vec<Instance> {
        let app = self.store.app(app).await.unwrap();
        let mut list = self.fake.list(&[(labels::APP_ID, app.id.as_str())]).await.unwrap();
        list.sort_by(|a, b| a.label(labels::DYNO).cmp(&b.label(labels::DYNO)));
        list
    }

    fn backends(&self, host: &str) -> Option<usize> {
        self.router.routes().lookup(host).map(|r| r.backends.len())
    }

    fn backend_ips(&self, host: &str) -> Vec<std::net::IpAddr> {
        let routes = self.router.routes();
        routes.lookup(host).map(|r| r.backends.iter().map(|b| b.addr.ip()).collect()).unwrap_or_default()
    }

    /// Passes until nothing is pending (bounded).
    async fn settle(&self) {
        for _ in 0..100 {
            if !self.reconciler.reconcile_once().await.unwrap() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the reconciler never settled");
    }

    async fn release(&self, app: &str, version: &str) -> berth_store::ReleaseRecord {
        let app = self.store.app(app).await.unwrap();
        self.store.release(&app.id, version).await.unwrap()
    }
}

#[tokio::test]
async fn deploy_scale_release_and_kill() {
    let h = harness().await;
    h.store.create_app("web1", &h.admin.id).await.unwrap();
    h.reconciler.reconcile_once().await.unwrap();
    assert!(h.instances("web1").await.is_empty(), "nothing runs before a deploy");
    assert_eq!(h.backends("web1.localhost"), Some(0), "known app without instances: 503, not 404");

    h.deploy("web1", "img:1", &[("web", ""), ("worker", "work")]).await;
    h.reconciler.reconcile_once().await.unwrap();
    let list = h.instances("web1").await;
    assert_eq!(list.len(), 1, "web starts at 1, worker at 0");
    assert_eq!(list[0].label(labels::DYNO), Some("web.1"));
    assert_eq!(list[0].label(labels::RELEASE), Some("2"));
    assert_eq!(h.backends("web1.localhost"), Some(1));
    assert_eq!(h.fake.networks(), vec!["t-web1".to_string()]);

    let app = h.store.app("web1").await.unwrap();
    h.store
        .update_formation(&app.id, &[("web".into(), Some(3), None), ("worker".into(), Some(1), None)])
        .await
        .unwrap();
    h.reconciler.reconcile_once().await.unwrap();
    let dynos: Vec<_> = h.instances("web1").await.iter().map(|i| i.label(labels::DYNO).unwrap().to_string()).collect();
    assert_eq!(dynos, vec!["web.1", "web.2", "web.3", "worker.1"]);
    assert_eq!(h.backends("web1.localhost"), Some(3));

    // A crash (or docker kill) takes the instance out of the routes at once and
    // gets it started again after its backoff (1 s for a first crash).
    let victim = h.instances("web1").await[1].clone();
    h.fake.exit(&victim.id);
    h.reconciler.reconcile_once().await.unwrap();
    assert_eq!(h.backends("web1.localhost"), Some(2), "a crashed instance takes no traffic");
    assert!(!h.backend_ips("web1.localhost").contains(&victim.ip.unwrap()));
    let status = h.reconciler.instances(&app).await.unwrap();
    let crashed = status.iter().find(|s| s.instance.id == victim.id).unwrap();
    assert_eq!((crashed.state.as_str(), crashed.last_exit_code), ("crashed", Some(1)));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.settle().await;
    let list = h.instances("web1").await;
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|i| i.state == InstanceState::Running));
    let status = h.reconciler.instances(&app).await.unwrap();
    let restarted = status.iter().find(|s| s.instance.id == victim.id).unwrap();
    assert_eq!((restarted.state.as_str(), restarted.restarts), ("up", 1));
    assert_eq!(h.backends("web1.localhost"), Some(3));

    // A new release replaces every instance.
    h.deploy("web1", "img:2", &[("web", ""), ("worker", "work")]).await;
    h.settle().await;
    let list = h.instances("web1").await;
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|i| i.label(labels::RELEASE) == Some("3")), "{list:?}");
}

#[tokio::test]
async fn a_restarted_server_adopts_instead_of_duplicating() {
    let h = harness().await;
    h.store.create_app("web1", &h.admin.id).await.unwrap();
    h.deploy("web1", "img:1", &[("web", "")]).await;
    h.reconciler.reconcile_once().await.unwrap();
    let before = h.instances("web1").await;

    let runtime: Arc<dyn Runtime> = h.fake.clone();
    let fresh = Reconciler::new(h.store.clone(), runtime, Router::new(), Arc::clone(&h.config));
    fresh.reconcile_once().await.unwrap();
    assert_eq!(h.instances("web1").await, before);
}

#[tokio::test]
async fn a_release_that_never_becomes_ready_leaves_the_old_one_serving() {
    let h = harness().await;
    h.store.create_app("web1", &h.admin.id).await.unwrap();
    h.deploy("web1", "img:1", &[("web", "")]).await;
    h.reconciler.reconcile_once().await.unwrap();
    let old = h.instances("web1").await[0].clone();

    h.fake.make_deaf("img:2");
    h.deploy("web1", "img:2", &[("web", "")]).await;
    let pending = h.reconciler.reconcile_once().await.unwrap();
    assert!(pending, "an unready rollout is pending work");
    let list = h.instances("web1").await;
    assert!(list.iter().any(|i| i.id == old.id && i.state == InstanceState::Running), "old instance still runs");
    assert_eq!(h.backend_ips("web1.localhost"), vec![old.ip.unwrap()], "traffic stays on the old release");

    // Past the boot timeout the release fails; its instance goes, the old one stays.
    tokio::time::sleep(Duration::from_millis(350)).await;
    h.settle().await;
    let v3 = h.release("web1", "v3").await;
    assert_eq!(v3.status, "failed");
    let reason = v3.status_reason.unwrap();
    assert!(reason.contains("web.1 did not become healthy within 0.3s"), "{reason}");
    assert!(reason.contains("fake output of an instance of img:2"), "the reason quotes the logs: {reason}");
    let list = h.instances("web1").await;
    assert_eq!(list.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), vec![old.id.clone()]);
    assert_eq!(h.backend_ips("web1.localhost"), vec![old.ip.unwrap()]);
    assert_eq!(h.release("web1", "v2").await.status, "succeeded");
}

#[tokio::test]
async fn an_http_check_that_fails_fails_the_release_with_the_reason() {
    let h = harness().await;
    let app = h.store.create_app("web1", &h.admin.id).await.unwrap();
    let check = HealthCheck { path: Some("/health".into()), attempts: 2, interval: 0.05, ..Default::default() };
    h.store.set_app_health_check(&app.id, Some(&check)).await.unwrap();
    h.deploy("web1", "img:1", &[("web", "")]).await;
    h.settle().await;
    assert!(h.release("web1", "v2").await.deployed_at.is_some());
    let old = h.instances("web1").await[0].clone();

    h.fake.set_http_status("img:2", 500);
    h.deploy("web1", "img:2", &[("web", "")]).await;
    h.settle().await;
    let v3 = h.release("web1", "v3").await;
    assert_eq!(v3.status, "failed");
    let reason = v3.status_reason.unwrap();
    assert!(
        reason.starts_with("web.1 failed its health check 2 times: GET /health answered 500 (expected 200)"),
        "{reason}"
    );
    assert_eq!(h.instances("web1").await, vec![old.clone()], "the old instance is untouched");
    assert_eq!(h.backend_ips("web1.localhost"), vec![old.ip.unwrap()]);

    // A good release after the failed one deploys normally.
    h.deploy("web1", "img:3", &[("web", "")]).await;
    h.settle().await;
    assert!(h.release("web1", "v4").await.deployed_at.is_some());
    let list = h.instances("web1").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].label(labels::RELEASE), Some("4"));
}

#[tokio::test]
async fn a_crash_during_rollout_fails_the_release() {
    let h = harness().await;
    h.store.create_app("web1", &h.admin.id).await.unwrap();
    h.deploy("web1", "img:1", &[("web", ""), ("worker", "w")]).await;
    h.settle().await;
    let app = h.store.app("web1").await.unwrap();
    h.store.update_formation(&app.id, &[("worker".into(), Some(1), None)]).await.unwrap();
    h.settle().await;
    let before = h.instances("web1").await;
    assert_eq!(before.len(), 2);

    h.fake.make_crashing("img:2");
    h.deploy("web1", "img:2", &[("web", ""), ("worker", "w")]).await;
    h.settle().await;
    let v3 = h.release("web1", "v3").await;
    assert_eq!(v3.status, "failed");
    assert!(v3.status_reason.as_deref().unwrap().contains("exited with status 1 during the rollout"), "{v3:?}");
    assert_eq!(h.instances("web1").await, before, "old web and worker keep running");
    assert_eq!(h.store.current_release(&app.id).await.unwrap().version, 2);
}

#[tokio::test]
async fn restarts_replace_one_generation_atomically() {
    let h = harness().await;
    let app = h.store.create_app("web1", &h.admin.id).await.unwrap();
    h.deploy("web1", "img:1", &[("web", "")]).await;
    h.store.update_formation(&app.id, &[("web".into(), Some(2), None)]).await.unwrap();
    h.settle().await;
    let old: Vec<_> = h.instances("web1").await.iter().map(|i| i.ip.unwrap()).collect();
    assert_eq!(old.len(), 2);

    h.store.bump_restart_generation(&app.id, None).await.unwrap();
    h.reconciler.reconcile_once().await.unwrap();
    let mut routed = h.backend_ips("web1.localhost");
    routed.sort();
    let new: Vec<_> = h.instances("web1").await.iter().map(|i| i.ip.unwrap()).filter(|ip| !old.contains(ip)).collect();
    assert_eq!(new.len(), 2, "replacements started");
    assert!(
        routed.iter().all(|ip| new.contains(ip)) || routed.iter().all(|ip| old.contains(ip)),
        "never a mix: {routed:?}"
    );
    h.settle().await;
    let now: Vec<_> = h.instances("web1").await.iter().map(|i| i.ip.unwrap()).collect();
    assert_eq!(now.len(), 2);
    assert!(now.iter().all(|ip| !old.contains(ip)));

    // One dyno: a replacement takes its place.
    let target = h.instances("web1").await[0].clone();
    h.reconciler.replace_instance(&target.id);
    h.settle().await;
    let list = h.instances("web1").await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|i| i.id != target.id));
    assert_eq!(h.backends("web1.localhost"), Some(2));
}

#[tokio::test]
async fn old_release_images_are_collected_but_recent_ones_kept() {
    let images: Vec<String> = (1..=13).map(|n| format!("img:{n}")).collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let mut h = harness().await;
    h.fake = Arc::new(FakeRuntime::with_images(&refs));
    let runtime: Arc<dyn Runtime> = h.fake.clone();
    h.reconciler = Reconciler::new(h.store.clone(), runtime, Arc::clone(&h.router), Arc::clone(&h.config));
    let app = h.store.create_app("web1", &h.admin.id).await.unwrap();
    for image in &images {
        h.deploy("web1", image, &[("web", "")]).await;
    }
    h.settle().await;
    assert_eq!(h.reconciler.collect_images(&app).await.unwrap(), 0, "fresh images are never collected");
    h.fake.age_images();
    // (A collection the last rollout started may run concurrently and do the work.)
    h.reconciler.collect_images(&app).await.unwrap();
    for (n, image) in images.iter().enumerate() {
        assert_eq!(h.fake.image_exists(image).await.unwrap(), n >= 3, "{image}");
    }
}

#[tokio::test]
async fn teardown_and_orphans() {
    let h = harness().await;
    h.store.create_app("gone", &h.admin.id).await.unwrap();
    h.deploy("gone", "img:1", &[("web", "")]).await;
    h.reconciler.reconcile_once().await.unwrap();
    let app = h.store.app("gone").await.unwrap();

    // Deleted from the store while the server was "down": the next pass cleans up.
    h.store.delete_app(&app.id).await.unwrap();
    h.reconciler.reconcile_once().await.unwrap();
    assert!(h.fake.list(&[(labels::APP_ID, app.id.as_str())]).await.unwrap().is_empty());
    assert!(h.fake.networks().is_empty());
    assert_eq!(h.backends("gone.localhost"), None, "destroyed apps are 404 again");

    h.store.create_app("web2", &h.admin.id).await.unwrap();
    h.deploy("web2", "img:1", &[("web", "")]).await;
    h.reconciler.reconcile_once().await.unwrap();
    let app = h.store.app("web2").await.unwrap();
    h.reconciler.teardown_app(&app).await.unwrap();
    assert!(h.instances("web2").await.is_empty());
    assert!(h.fake.networks().is_empty());
}

#[tokio::test]
async fn an_instance_created_but_never_started_is_started_not_failed() {
    let h = harness().await;
    h.store.create_app("web1", &h.admin.id).await.unwrap();
    h.deploy("web1", "img:1", &[("web", "")]).await;
    h.settle().await;
    h.deploy("web1", "img:2", &[("web", "")]).await;
    h.fake.make_deaf("img:2");
    h.reconciler.reconcile_once().await.unwrap();
    let new = h.instances("web1").await.into_iter().find(|i| i.label(labels::RELEASE) == Some("3")).unwrap();
    h.fake.unstart(&new.id);

    // A fresh server (the old one died between create and start) picks it up.
    let runtime: Arc<dyn Runtime> = h.fake.clone();
    let fresh = Reconciler::new(h.store.clone(), runtime, Router::new(), Arc::clone(&h.config));
    fresh.reconcile_once().await.unwrap();
    let again = h.instances("web1").await.into_iter().find(|i| i.id == new.id).unwrap();
    assert_eq!(again.state, InstanceState::Running);
    assert_eq!(h.release("web1", "v3").await.status, "succeeded", "not a crash");
}
