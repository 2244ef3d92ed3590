//! The command line as a script sees it: exit codes, help, and the documented table.

use crate::harness::ecs_ship_run;

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let cases: &[(&[&str], i32)] = &[
        (&["--help"], 0),
        (&["--version"], 0),
        (&["doctor", "--help"], 0),
        (&[], 2),
        (&["nonsense"], 2),
        (&["doctor", "--bogus"], 2),
        (&["doctor", "--output", "yaml"], 2),
        (&["doctor", "--service", "s"], 2),
        (
            &["taskdef", "render", "--file", "a.json", "--family", "f"],
            2,
        ),
        (
            &[
                "taskdef",
                "render",
                "--file",
                "a.json",
                "--image",
                "api=Not:Valid",
            ],
            2,
        ),
    ];
    for (args, code) in cases {
        let run = ecs_ship_run(args);
        assert_eq!(
            run.code,
            *code,
            "ecs-ship {}\n{}",
            args.join(" "),
            run.stderr
        );
    }
}

#[test]
fn the_exit_code_table_is_the_same_in_help_and_readme() {
    let help = ecs_ship_run(&["--help"]).expect_code(0).stdout;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for line in ecs_ship::error::EXIT_CODE_TABLE.lines().skip(1) {
        let (code, meaning) = line.trim().split_once(char::is_whitespace).unwrap();
        assert!(help.contains(line.trim()), "--help lacks {line:?}");
        let row = format!("| {code} | {} |", meaning.trim());
        assert!(readme.contains(&row), "README.md lacks the row {row:?}");
    }
}

#[test]
fn a_missing_region_is_bad_input_naming_the_fix() {
    let mut cmd = crate::harness::ecs_ship();
    cmd.env_remove("AWS_REGION")
        .args(["taskdef", "register", "--family", "x"]);
    crate::harness::run(&mut cmd)
        .expect_code(2)
        .stderr_has("no AWS region: pass --region");
}

#[test]
fn completions_man_and_version_come_from_the_command_tree() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = ecs_ship_run(&["completions", shell]).expect_code(0);
        assert!(
            run.stdout.contains("release") && run.stdout.contains("rehearse"),
            "{shell} completions lack subcommands"
        );
    }
    ecs_ship_run(&["completions", "tcsh"]).expect_code(2);
    ecs_ship_run(&["man"])
        .expect_code(0)
        .stdout_has(".TH ecs-ship 1");
    let version = ecs_ship_run(&["--version"]).expect_code(0);
    assert!(
        version
            .stdout
            .starts_with(&format!("ecs-ship {}\n", env!("CARGO_PKG_VERSION")))
    );
    for needle in ["commit ", "aws-sdk-ecs 1.157.0", "bollard "] {
        assert!(version.stdout.contains(needle), "{}", version.stdout);
    }
}
