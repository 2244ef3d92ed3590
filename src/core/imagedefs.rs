//! CodePipeline's hand-off files: imagedefinitions.json (ECS standard deploy: an array of
//! `{"name", "imageUri"}`, UTF-8, at most 100 KB) and imageDetail.json (CodeDeploy blue/green:
//! `{"ImageURI": uri}`).

use serde_json::json;

use super::image_ref::ImageRef;

/// CodePipeline refuses a larger imagedefinitions.json.
pub const MAX_BYTES: usize = 100 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImagedefsError {
    #[error(
        "no containers: pass --container NAME=IMAGE, or --name CONTAINER after `ecs-ship push`"
    )]
    Empty,
    #[error("container `{0}` is given twice")]
    Duplicate(String),
    #[error("`{0}` is not NAME=IMAGE")]
    NotAPair(String),
    #[error(transparent)]
    Image(#[from] super::image_ref::InvalidImageRef),
    #[error("imagedefinitions.json would be {0} bytes; CodePipeline accepts at most 102400")]
    TooLarge(usize),
}

/// Parses `NAME=IMAGE`.
pub fn parse_container(spec: &str) -> Result<(String, ImageRef), ImagedefsError> {
    match spec.split_once('=') {
        Some((name, image)) if !name.is_empty() => Ok((name.to_owned(), ImageRef::parse(image)?)),
        _ => Err(ImagedefsError::NotAPair(spec.to_owned())),
    }
}

pub fn render_imagedefinitions(
    containers: &[(String, ImageRef)],
) -> Result<String, ImagedefsError> {
    if containers.is_empty() {
        return Err(ImagedefsError::Empty);
    }
    for (i, (name, _)) in containers.iter().enumerate() {
        if containers[..i].iter().any(|(n, _)| n == name) {
            return Err(ImagedefsError::Duplicate(name.clone()));
        }
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        name: &'a str,
        image_uri: String,
    }
    let array: Vec<Entry<'_>> = containers
        .iter()
        .map(|(name, image)| Entry {
            name,
            image_uri: image.to_string(),
        })
        .collect();
    let text = serde_json::to_string_pretty(&array).expect("JSON values serialize") + "\n";
    if text.len() > MAX_BYTES {
        return Err(ImagedefsError::TooLarge(text.len()));
    }
    Ok(text)
}

pub fn render_image_detail(image: &ImageRef) -> String {
    serde_json::to_string_pretty(&json!({"ImageURI": image.to_string()}))
        .expect("JSON values serialize")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_codepipeline_reads() {
        let api = parse_container("api=123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/vendor0919-api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
        let side = parse_container(
            "log_router=public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
        )
        .unwrap();
        let text = render_imagedefinitions(&[api.clone(), side]).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!([
                {"name": "api", "imageUri": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/vendor0919-api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
                {"name": "log_router", "imageUri": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"},
            ])
        );
        let detail: serde_json::Value = serde_json::from_str(&render_image_detail(&api.1)).unwrap();
        assert_eq!(detail, json!({"ImageURI": api.1.to_string()}));
    }

    #[test]
    fn refuses_what_codepipeline_would() {
        assert_eq!(render_imagedefinitions(&[]), Err(ImagedefsError::Empty));
        let a = parse_container("a=x:1").unwrap();
        assert_eq!(
            render_imagedefinitions(&[a.clone(), a]),
            Err(ImagedefsError::Duplicate("a".into()))
        );
        assert_eq!(
            parse_container("x:1"),
            Err(ImagedefsError::NotAPair("x:1".into()))
        );
        assert!(parse_container("a=Bad:Image").is_err());
        let many: Vec<_> = (0..2000)
            .map(|i| {
                (
                    format!("container-{i}"),
                    ImageRef::parse("registry.example/some/long/repository/name:tag").unwrap(),
                )
            })
            .collect();
        assert!(
            matches!(render_imagedefinitions(&many), Err(ImagedefsError::TooLarge(n)) if n > MAX_BYTES)
        );
    }
}
