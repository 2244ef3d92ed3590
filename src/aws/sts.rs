//! Who the caller is (STS GetCallerIdentity).

use serde::Serialize;

use super::{Aws, remote};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

pub async fn caller_identity(aws: &Aws) -> Result<CallerIdentity> {
    let out = aws.sts().get_caller_identity().send().await.map_err(|e| {
        remote(
            "failed to get the caller identity (STS GetCallerIdentity)",
            e,
        )
    })?;
    Ok(CallerIdentity {
        account: out.account().unwrap_or_default().to_owned(),
        arn: out.arn().unwrap_or_default().to_owned(),
        user_id: out.user_id().unwrap_or_default().to_owned(),
    })
}
