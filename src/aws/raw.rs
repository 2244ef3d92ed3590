//! Two interceptors for what the ECS model of this SDK version does not carry: one merges carried
//! task-definition keys into the serialized request body before it is signed (retries, signing and
//! endpoints stay the SDK's), one keeps the raw response body, which the typed deserializer would
//! reduce to the members it knows.

use std::sync::{Arc, Mutex};

use aws_sdk_ecs::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;

use crate::core::carry::{self, Carried};
use crate::error::BoxError;

/// Keeps the raw response body of the call it is attached to.
#[derive(Debug, Clone, Default)]
pub struct RawBody(Arc<Mutex<Option<Vec<u8>>>>);

impl RawBody {
    pub fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut b| b.take())
    }
}

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "ecs-ship raw response body"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(bytes), Ok(mut slot)) = (context.response().body().bytes(), self.0.lock()) {
            *slot = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// Merges carried keys into the JSON body the SDK serialized, before signing.
#[derive(Debug)]
pub struct MergeCarried(pub Vec<Carried>);

impl Intercept for MergeCarried {
    fn name(&self) -> &'static str {
        "ecs-ship carried task definition keys"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let bytes = request
            .body()
            .bytes()
            .ok_or("the RegisterTaskDefinition body is not in memory")?;
        let mut body: serde_json::Value = serde_json::from_slice(bytes)?;
        carry::merge(&mut body, &self.0);
        let merged = serde_json::to_vec(&body)?;
        request
            .headers_mut()
            .insert("Content-Length", merged.len().to_string());
        *request.body_mut() = SdkBody::from(merged);
        Ok(())
    }
}
