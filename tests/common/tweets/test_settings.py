"""TweetSettings from the environment the template gives the function."""

from visionpipe_common.tweets.settings import TweetSettings


def test_no_secret_means_dry_run_and_defaults_reproduce_the_original(monkeypatch):
    monkeypatch.setenv("COOLDOWN_TABLE", "cooldown")
    for name in ("X_SECRET_ARN", "ATTACH_IMAGE", "COOLDOWN_SECONDS", "TWEET_TEMPLATE", "TWEET_HASHTAGS"):
        monkeypatch.delenv(name, raising=False)
    settings = TweetSettings.from_environment()
    assert settings.dry_run and not settings.attach_image and settings.cooldown_seconds == 60
    assert settings.template == "Botchitecture report at {time} (UTC): {message} {hashtags}"
    assert settings.hashtags == "botchitecture,{device}"


def test_configured_values(monkeypatch):
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:visionpipe/x-api-keys-AbCdEf"
    for name, value in {
        "COOLDOWN_TABLE": "cooldown",
        "X_SECRET_ARN": f" {arn} ",
        "ATTACH_IMAGE": "true",
        "COOLDOWN_SECONDS": "0",
        "TWEET_TEMPLATE": "",
    }.items():
        monkeypatch.setenv(name, value)
    settings = TweetSettings.from_environment()
    assert not settings.dry_run and settings.x_secret_arn == arn
    assert settings.attach_image and settings.cooldown_seconds == 0
    assert settings.template.startswith("Botchitecture report at {time}")  # empty: the default
