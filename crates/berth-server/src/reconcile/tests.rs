use std::sync::Arc;
use std::time::Duration;

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
    let fake = Arc::new(FakeRuntime::with_images(&["img:1", "img:2"]));
    let router = Router::new();
    let mut config = ServerConfig::new("/nonexistent".into());
    config.namespace = "t".into();
    config.boot_wait = Duration::from_millis(200);
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

    // A crash (or docker kill) gets the same instance started again.
    let victim = h.instances("web1").await[1].id.clone();
    h.fake.exit(&victim);
    h.reconciler.reconcile_once().await.unwrap();
    let list = h.instances("web1").await;
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|i| i.state == InstanceState::Running));

    // A new release replaces every instance.
    h.deploy("web1", "img:2", &[("web", ""), ("worker", "work")]).await;
    h.reconciler.reconcile_once().await.unwrap();
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
    let route = h.router.routes();
    let backends = &route.lookup("web1.localhost").unwrap().backends;
    assert_eq!(backends.len(), 1);
    assert_eq!(Some(backends[0].addr.ip()), old.ip, "traffic stays on the old release");
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
