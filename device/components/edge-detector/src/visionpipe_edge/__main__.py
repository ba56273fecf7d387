"""Component entry point: `python -m visionpipe_edge`.

On a Greengrass core (the nucleus sets AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT) the
settings come from the component configuration over IPC, with live updates, and records are
published to IoT Core. Anywhere else it takes the same options as `visionpipe device run`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from visionpipe_edge import cli

LOG = logging.getLogger("visionpipe_edge")
IPC_SOCKET_VARIABLE = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"


def run_on_greengrass(client=None) -> int:
    """Run as the Greengrass component until the nucleus stops it (SIGTERM)."""
    from visionpipe_edge.config import IpcConfigWatcher, ModelError, model_defaults
    from visionpipe_edge.frame_sources import CameraAccessError, FrameSourceError
    from visionpipe_edge.publishers import IpcPublisher
    from visionpipe_edge.uploader import BackgroundUploader

    if client is None:
        from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

        client = GreengrassCoreIPCClientV2()
    try:
        described = model_defaults(cli.default_model_dir())
    except ModelError as error:  # the nucleus marks the component ERRORED and the deployment reports it
        LOG.error("no usable model: %s", error)
        return 1
    watcher = IpcConfigWatcher(client, **described)
    watcher.subscribe()
    settings = watcher.settings
    LOG.info("device %s, source %s, bucket %s", settings.device_id, settings.source, settings.bucket or "-")
    uploader = None
    if settings.bucket:
        # Credentials: the TokenExchangeService dependency sets AWS_CONTAINER_CREDENTIALS_FULL_URI.
        uploader = BackgroundUploader(
            cli.s3_client(region=settings.region), settings.bucket, max_queue=settings.upload_queue_size
        )
    else:
        LOG.warning("no bucket configured: detections are published and streamed but not uploaded")
    publisher = IpcPublisher(client)
    delay = 1.0
    try:
        while True:
            try:
                cli.run_loop(settings, uploader, publisher, settings_provider=lambda: watcher.settings)
                return 0  # the source ended (a file) or the nucleus stopped us
            except CameraAccessError as error:  # only a restart with the right groups helps: say so, stop
                LOG.error("%s", error)
                return 1
            except FrameSourceError as error:  # camera unplugged, stream down: retry, never crash-loop
                LOG.error("%s; retrying in %.0f s", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 60.0)
                if uploader is not None:  # run_loop closed it: start a fresh one
                    uploader = BackgroundUploader(uploader.s3, uploader.bucket, max_queue=uploader.max_queue)
    finally:
        watcher.close()


def main(argv: list[str] | None = None) -> int:
    if os.environ.get(IPC_SOCKET_VARIABLE) and not argv:
        logging.basicConfig(
            level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s"
        )
        return run_on_greengrass()
    parser = argparse.ArgumentParser(prog="python -m visionpipe_edge", description=__doc__.splitlines()[0])
    cli.add_options(parser)
    return cli.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
