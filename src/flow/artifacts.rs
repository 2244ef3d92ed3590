//! The files a pipeline hands on: CodePipeline's imagedefinitions.json and CodeDeploy's
//! imageDetail.json, written atomically. Shared by `imagedefs` and `release`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tracing::info;

use crate::core::image_ref::ImageRef;
use crate::core::imagedefs::{render_image_detail, render_imagedefinitions};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactsResult {
    pub imagedefinitions: PathBuf,
    pub image_detail: Option<PathBuf>,
    pub containers: Vec<(String, String)>,
}

impl fmt::Display for ArtifactsResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.imagedefinitions.display())?;
        if let Some(p) = &self.image_detail {
            writeln!(f, "{}", p.display())?;
        }
        Ok(())
    }
}

/// CodeDeploy reads exactly `imageDetail.json`
/// (https://docs.aws.amazon.com/codepipeline/latest/userguide/file-reference.html).
pub fn check_image_detail_name(path: &Path) -> Result<()> {
    if path.file_name().and_then(|n| n.to_str()) == Some("imageDetail.json") {
        Ok(())
    } else {
        Err(Error::input(format!(
            "--image-detail `{}`: CodeDeploy reads exactly `imageDetail.json`",
            path.display()
        )))
    }
}

/// Writes imagedefinitions.json for `containers` to `out`, and imageDetail.json (the first
/// container's image) to `image_detail`; everything is checked before anything is written.
pub fn write(
    containers: &[(String, ImageRef)],
    out: &Path,
    image_detail: Option<&Path>,
) -> Result<ArtifactsResult> {
    let text =
        render_imagedefinitions(containers).map_err(|e| Error::input_with(e.to_string(), e))?;
    if let Some(detail) = image_detail {
        check_image_detail_name(detail)?;
    }
    for path in std::iter::once(out).chain(image_detail) {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::input_with(
                    format!("cannot create `{}` for `{}`", dir.display(), path.display()),
                    e,
                )
            })?;
        }
    }
    write_atomic(out, text.as_bytes())?;
    info!("wrote {}", out.display());
    if let Some(detail) = image_detail {
        write_atomic(detail, render_image_detail(&containers[0].1).as_bytes())?;
        info!("wrote {}", detail.display());
    }
    Ok(ArtifactsResult {
        imagedefinitions: out.to_owned(),
        image_detail: image_detail.map(Path::to_owned),
        containers: containers
            .iter()
            .map(|(n, i)| (n.clone(), i.to_string()))
            .collect(),
    })
}

impl crate::output::Report for ArtifactsResult {}
