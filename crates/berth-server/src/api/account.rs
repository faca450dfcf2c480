use axum::Json;
use berth_core::api::Account;

use crate::auth::CurrentUser;
use crate::view;

pub async fn show(caller: CurrentUser) -> Json<Account> {
    Json(view::account(&caller.user))
}
