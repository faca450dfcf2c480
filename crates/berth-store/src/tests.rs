use super::*;

async fn store() -> (Store, User) {
    let store = Store::open_in_memory(Cipher::random()).await.unwrap();
    let admin = store.create_user("admin@berth.local", None, true).await.unwrap();
    (store, admin)
}

fn deploy(image: &str, types: &[(&str, &str)], user: &User) -> impl FnOnce(&ReleaseRecord) -> Result<NewRelease> {
    let image = image.to_string();
    let types: ProcessTypes = types.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let user_id = user.id.clone();
    move |current| {
        Ok(NewRelease {
            description: format!("Deploy {image}"),
            image: Some(image),
            process_types: types,
            config: current.config.clone(),
            user_id,
            health_check: None,
        })
    }
}

#[tokio::test]
async fn failed_rollouts_fall_back_to_the_last_deployed_release() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    let v2 = store.create_release_from_current(&app.id, deploy("img:2", &[("web", "serve")], &admin)).await.unwrap();
    assert!(v2.deployed_at.is_none(), "a new release is rolling out");
    store.mark_release_deployed(&v2.id).await.unwrap();
    let v3 = store.create_release_from_current(&app.id, deploy("img:3", &[("web", "serve")], &admin)).await.unwrap();
    assert_eq!(store.current_release(&app.id).await.unwrap().version, 3);
    store.fail_release(&v3.id, "web.1 failed its health check").await.unwrap();
    let v3 = store.release(&app.id, "v3").await.unwrap();
    assert_eq!((v3.status.as_str(), v3.status_reason.as_deref()), ("failed", Some("web.1 failed its health check")));
    assert_eq!(store.current_release(&app.id).await.unwrap().version, 2);
    assert_eq!(store.recent_release_images(&app.id, 10).await.unwrap(), ["img:3", "img:2"]);
    assert_eq!(store.recent_release_images(&app.id, 1).await.unwrap(), ["img:3"]);
    // A deployed release is never failed afterwards.
    store.fail_release(&v2.id, "late crash").await.unwrap();
    assert_eq!(store.release(&app.id, "v2").await.unwrap().status, "succeeded");
    assert!(store.release(&app.id, "v2").await.unwrap().deployed_at.is_some());
}

#[tokio::test]
async fn app_health_checks_round_trip() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    assert_eq!(store.app_health_check(&app.id).await.unwrap(), None);
    let check = HealthCheck { path: Some("/health".into()), attempts: 2, ..Default::default() };
    store.set_app_health_check(&app.id, Some(&check)).await.unwrap();
    assert_eq!(store.app_health_check(&app.id).await.unwrap(), Some(check));
    store.set_app_health_check(&app.id, None).await.unwrap();
    assert_eq!(store.app_health_check(&app.id).await.unwrap(), None);
}

#[tokio::test]
async fn apps_start_with_an_initial_release_and_names_are_unique() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    assert_eq!(app.owner_email, "admin@berth.local");
    let releases = store.list_releases(&app.id).await.unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].version, 1);
    assert_eq!(releases[0].description, "Initial release");
    assert!(matches!(store.create_app("web1", &admin.id).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.app("web1").await.unwrap().id, store.app(&app.id).await.unwrap().id);
    assert!(matches!(store.app("nope").await, Err(StoreError::NotFound(_))));
}

#[tokio::test]
async fn releases_number_up_and_carry_config() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    let v2 = store
        .create_release_from_current(&app.id, |cur| {
            let mut config = cur.config.clone();
            config.insert("GREETING".into(), "hi".into());
            Ok(cur.with_config(config, "Set GREETING config vars".into(), &admin.id))
        })
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let v3 = store.create_release_from_current(&app.id, deploy("img:1", &[("web", "")], &admin)).await.unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(v3.config["GREETING"], "hi", "deploys keep the config");
    assert_eq!(store.current_release(&app.id).await.unwrap().version, 3);
    assert_eq!(store.release(&app.id, "v2").await.unwrap().id, v2.id);
    assert_eq!(store.release(&app.id, &v2.id).await.unwrap().version, 2);
}

#[tokio::test]
async fn concurrent_config_changes_do_not_lose_updates() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        let (app_id, user_id) = (app.id.clone(), admin.id.clone());
        tasks.push(tokio::spawn(async move {
            store
                .create_release_from_current(&app_id, |cur| {
                    let mut config = cur.config.clone();
                    config.insert(format!("K{i}"), i.to_string());
                    Ok(cur.with_config(config, format!("Set K{i}"), &user_id))
                })
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let current = store.current_release(&app.id).await.unwrap();
    assert_eq!(current.version, 21);
    assert_eq!(current.config.len(), 20);
}

#[tokio::test]
async fn formation_follows_herokus_defaults_and_scales() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    assert!(store.list_formation(&app.id).await.unwrap().is_empty());
    store
        .create_release_from_current(
            &app.id,
            deploy("img:1", &[("web", "serve"), ("worker", "work"), ("release", "migrate")], &admin),
        )
        .await
        .unwrap();
    let formation = store.list_formation(&app.id).await.unwrap();
    let summary: Vec<(&str, i64)> = formation.iter().map(|f| (f.process_type.as_str(), f.quantity)).collect();
    assert_eq!(summary, vec![("web", 1), ("worker", 0)]);

    let updated = store
        .update_formation(
            &app.id,
            &[("web".into(), Some(3), None), ("worker".into(), Some(1), Some("standard-2X".into()))],
        )
        .await
        .unwrap();
    assert_eq!(updated.len(), 2);
    let err = store.update_formation(&app.id, &[("clock".into(), Some(1), None)]).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)));

    // A release that drops `worker` hides it from the formation but keeps the scale
    // should it come back.
    store.create_release_from_current(&app.id, deploy("img:2", &[("web", "serve")], &admin)).await.unwrap();
    assert_eq!(store.list_formation(&app.id).await.unwrap().len(), 1);
    store
        .create_release_from_current(&app.id, deploy("img:3", &[("web", "serve"), ("worker", "w")], &admin))
        .await
        .unwrap();
    let worker = store.list_formation(&app.id).await.unwrap().into_iter().find(|f| f.process_type == "worker");
    assert_eq!(worker.unwrap().quantity, 1);

    assert_eq!(store.bump_restart_generation(&app.id, Some("web")).await.unwrap(), 1);
    let web = &store.list_formation(&app.id).await.unwrap()[0];
    assert_eq!(web.restart_generation, 1);
}

#[tokio::test]
async fn tokens_resolve_users_until_they_expire() {
    let (store, admin) = store().await;
    store.insert_token(&admin.id, "hash-a", "admin", None).await.unwrap();
    store
        .insert_token(&admin.id, "hash-old", "expired", Some(Utc::now() - chrono::Duration::seconds(1)))
        .await
        .unwrap();
    assert_eq!(store.user_by_token_hash("hash-a").await.unwrap().unwrap().0, admin);
    assert!(store.user_by_token_hash("hash-old").await.unwrap().is_none());
    assert!(store.user_by_token_hash("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_an_app_removes_its_releases() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    store.delete_app(&app.id).await.unwrap();
    assert!(store.list_releases(&app.id).await.unwrap().is_empty());
    assert!(matches!(store.delete_app(&app.id).await, Err(StoreError::NotFound(_))));
}

#[tokio::test]
async fn config_values_never_reach_the_database_file_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    let store = Store::open(&path, Cipher::random()).await.unwrap();
    let admin = store.create_user("a@b.c", None, true).await.unwrap();
    let app = store.create_app("web1", &admin.id).await.unwrap();
    let secret = "hunter2-very-secret-value";
    store
        .create_release_from_current(&app.id, |cur| {
            let mut config = cur.config.clone();
            config.insert("PASSWORD".into(), secret.into());
            Ok(cur.with_config(config, "Set PASSWORD config vars".into(), &admin.id))
        })
        .await
        .unwrap();
    assert_eq!(store.current_release(&app.id).await.unwrap().config["PASSWORD"], secret);
    store.close().await;
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("berth.db-wal")) {
        bytes.extend(wal);
    }
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

#[tokio::test]
async fn builds_are_recorded_and_interrupted_ones_fail() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    let build = store.create_build(&app.id, "abc1234", &admin.id).await.unwrap();
    assert_eq!(build.status, "pending");
    let release = store.create_release_from_current(&app.id, deploy("img:1", &[("web", "")], &admin)).await.unwrap();
    store.finish_build(&build.id, true, "-----> done\n", Some(&release.id)).await.unwrap();
    let done = store.build(&app.id, &build.id).await.unwrap();
    assert_eq!((done.status.as_str(), done.release_version), ("succeeded", Some(2)));
    assert_eq!(done.output, "-----> done\n");

    let stuck = store.create_build(&app.id, "def5678", &admin.id).await.unwrap();
    assert_eq!(store.fail_interrupted_builds().await.unwrap(), 1);
    let stuck = store.build(&app.id, &stuck.id).await.unwrap();
    assert_eq!(stuck.status, "failed");
    assert!(stuck.output.contains("interrupted"));
    assert_eq!(store.list_builds(&app.id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn app_buildpacks_round_trip() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    assert!(store.app_buildpacks(&app.id).await.unwrap().is_empty());
    let urls = vec!["python".to_string(), "https://example.com/bp.git".to_string()];
    store.set_app_buildpacks(&app.id, &urls).await.unwrap();
    assert_eq!(store.app_buildpacks(&app.id).await.unwrap(), urls);
}

#[tokio::test]
async fn release_phase_keeps_releases_pending_until_they_pass() {
    let (store, admin) = store().await;
    let app = store.create_app("web1", &admin.id).await.unwrap();
    let v2 = store.create_release_from_current(&app.id, deploy("img:1", &[("web", "")], &admin)).await.unwrap();
    assert_eq!(v2.status, "succeeded");
    let v3 = store
        .create_release_from_current(&app.id, deploy("img:2", &[("web", ""), ("release", "./migrate")], &admin))
        .await
        .unwrap();
    assert_eq!(v3.status, "pending");
    assert_eq!(store.current_release(&app.id).await.unwrap().version, 2, "pending is not current");
    // A config change during the phase builds on the pending deploy, not on v2.
    let v4 = store
        .create_release_from_current(&app.id, |cur| Ok(cur.with_config(cur.config.clone(), "Set X".into(), &admin.id)))
        .await
        .unwrap();
    assert_eq!(v4.image.as_deref(), Some("img:2"));
    store.set_release_status(&v3.id, false).await.unwrap();
    store.set_release_status(&v4.id, true).await.unwrap();
    assert_eq!(store.current_release(&app.id).await.unwrap().version, 4);
    assert_eq!(store.release(&app.id, "v3").await.unwrap().status, "failed");
    let v5 = store
        .create_release_from_current(&app.id, deploy("img:3", &[("web", ""), ("release", "x")], &admin))
        .await
        .unwrap();
    assert_eq!(store.fail_pending_releases().await.unwrap(), 1);
    assert_eq!(store.release(&app.id, &v5.id).await.unwrap().status, "failed");
}

#[tokio::test]
async fn key_rotation_reencrypts_every_release() {
    let old = Cipher::random();
    let store = Store::open_in_memory(old.clone()).await.unwrap();
    let admin = store.create_user("admin@berth.local", None, true).await.unwrap();
    let app = store.create_app("web1", &admin.id).await.unwrap();
    store
        .create_release_from_current(&app.id, |cur| {
            let config = ConfigVars::from([("SECRET".to_string(), "s3".to_string())]);
            Ok(cur.with_config(config, "Set SECRET config vars".into(), &admin.id))
        })
        .await
        .unwrap();
    let new = Cipher::random();
    assert_eq!(store.reencrypt_all(&new).await.unwrap(), 2);
    // The old key opens nothing any more; the new key opens everything.
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT app_id, config FROM releases").fetch_all(&store.pool).await.unwrap();
    for (app_id, sealed) in &rows {
        assert!(old.open(sealed, app_id.as_bytes()).is_err());
        assert!(new.open(sealed, app_id.as_bytes()).is_ok());
    }
}

#[tokio::test]
async fn tokens_can_be_revoked_and_expire() {
    let (store, admin) = store().await;
    let live = store.insert_token(&admin.id, "hash-live", "cli", None).await.unwrap();
    let expired = store
        .insert_token(&admin.id, "hash-old", "old", Some(chrono::Utc::now() - chrono::Duration::seconds(1)))
        .await
        .unwrap();
    assert_eq!(store.user_by_token_hash("hash-live").await.unwrap().unwrap().1, live);
    assert!(store.user_by_token_hash("hash-old").await.unwrap().is_none(), "expired");
    let listed: Vec<String> = store.list_tokens(&admin.id).await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(listed, vec![live.clone()], "expired tokens are not listed");
    let other = store.create_user("dev@example.com", None, false).await.unwrap();
    assert!(matches!(store.revoke_token(&other.id, &live).await, Err(StoreError::NotFound(_))), "not theirs");
    store.revoke_token(&admin.id, &live).await.unwrap();
    assert!(store.user_by_token_hash("hash-live").await.unwrap().is_none(), "revoked at once");
    assert!(matches!(store.revoke_token(&admin.id, &live).await, Err(StoreError::NotFound(_))));
    let _ = expired;
}

#[tokio::test]
async fn collaborators_see_their_apps_only() {
    let (store, admin) = store().await;
    let dev = store.create_user("dev@example.com", None, false).await.unwrap();
    let mine = store.create_app("mine", &dev.id).await.unwrap();
    let shared = store.create_app("shared", &admin.id).await.unwrap();
    store.create_app("hidden", &admin.id).await.unwrap();
    store.put_collaborator(&shared.id, &dev.id, "view,deploy", false).await.unwrap();
    assert!(matches!(store.put_collaborator(&shared.id, &dev.id, "view", false).await, Err(StoreError::Conflict(_))));
    let names: Vec<String> = store.list_apps_for_user(&dev.id).await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["mine", "shared"]);
    let updated = store.put_collaborator(&shared.id, &dev.id, "view,operate", true).await.unwrap();
    assert_eq!(updated.permissions, "view,operate");
    assert_eq!(store.list_collaborators(&shared.id).await.unwrap().len(), 1);
    store.remove_collaborator(&shared.id, &dev.id).await.unwrap();
    assert!(store.collaborator(&shared.id, &dev.id).await.unwrap().is_none());
    assert!(matches!(store.delete_user(&dev.id).await, Err(StoreError::Conflict(_))), "owns an app");
    let _ = mine;
}

#[tokio::test]
async fn audit_events_are_append_only() {
    let (store, admin) = store().await;
    let event = |app: &str, action: &str| NewAuditEvent {
        user_id: Some(admin.id.clone()),
        user_email: Some(admin.email.clone()),
        token_id: Some("t1".into()),
        source_ip: "127.0.0.1".into(),
        method: "PATCH".into(),
        path: format!("/apps/{app}/config-vars"),
        action: action.into(),
        app: Some(app.into()),
        status: 200,
    };
    store.append_audit(&event("a1", "config-vars.update")).await.unwrap();
    store.append_audit(&event("a2", "app.destroy")).await.unwrap();
    let all = store.list_audit(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.event.action.as_str()).collect::<Vec<_>>(), ["app.destroy", "config-vars.update"]);
    assert_eq!(store.list_audit(Some("a1"), 10).await.unwrap().len(), 1);
    assert!(sqlx::query("UPDATE audit_events SET status = 0").execute(&store.pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_events").execute(&store.pool).await.is_err());
    assert_eq!(store.list_audit(None, 10).await.unwrap().len(), 2);
}
