import typer

from medperf_lite import lazy
from medperf_lite.cli.common import YES, group, session
from medperf_lite.errors import MedperfError

certificate = lazy.module("medperf_lite.commands.certificate")


app = group("certificate", "Your certificates: from your startup kit (NVFlare flow), or from the CA (MedPerf main).")
EXP_ID = typer.Option(None, "-t", "--training_exp_id", "--training-exp-id", help="the experiment (NVFlare flow)")
KEY_TYPE = typer.Option(None, "--key_type", "--key-type", help="RSA or EC (MedPerf main)")
KEY_TYPE_REQUIRED = typer.Option(..., "--key_type", "--key-type", help="RSA or EC")
OVERWRITE = typer.Option(False, "--overwrite", help="replace the key and certificate you have (MedPerf main)")


def _one_of(nvflare: object, main: object, nvflare_flag: str, main_flag: str) -> None:
    if (nvflare is None) == (main is None):
        raise MedperfError(f"give {nvflare_flag} (MedPerf's NVFlare flow) or {main_flag} (MedPerf main), one of them")


def _get(role: str, training_exp_id: int | None, main_value, main_flag: str, overwrite: bool) -> None:
    """A certificate from the startup kit (the NVFlare flow's -t) or from the CA (MedPerf main)."""
    _one_of(training_exp_id, main_value, "-t/--training_exp_id", main_flag)
    whose = "Your client" if role == "client" else "The aggregator's"
    if training_exp_id is not None:
        folder = certificate.get(session(), training_exp_id, role)
        typer.echo(f"{whose} startup kit (certificate and keys) is in {folder}")
    else:
        get = certificate.get_client if role == "client" else certificate.get_server
        folder = get(session(), main_value, overwrite)
        typer.echo(f"{whose} key and certificate are in {folder}")


@app.command("get_client_certificate", help="Your client certificate: from your startup kit (-t EXP), or a key and a "
                                            "certificate from the CA (--key_type RSA|EC).")
def get_client_certificate(training_exp_id: int = EXP_ID, key_type: str = KEY_TYPE, overwrite: bool = OVERWRITE):
    _get("client", training_exp_id, key_type, "--key_type", overwrite)


@app.command("get_server_certificate", help="The aggregator's certificate: from its startup kit (-t EXP), or a key and a "
                                            "certificate for its address from the CA (-a AGGREGATOR).")
def get_server_certificate(training_exp_id: int = EXP_ID,
                           aggregator_id: int = typer.Option(None, "-a", "--aggregator_id", "--aggregator-id",
                                                             help="the aggregator (MedPerf main)"),
                           overwrite: bool = OVERWRITE):
    _get("server", training_exp_id, aggregator_id, "-a/--aggregator_id", overwrite)


@app.command("submit_client_certificate", help="Upload your client certificate to the server, once the CA verified it "
                                               "(MedPerf main).")
def submit_client_certificate(key_type: str = KEY_TYPE_REQUIRED, yes: bool = YES):
    cert_id = certificate.submit(session(), key_type, yes)
    typer.echo(f"Certificate uploaded (ID {cert_id})")


@app.command("delete_client_certificate", help="Invalidate your certificate on the server and delete your local key and "
                                               "certificate (MedPerf main).")
def delete_client_certificate(key_type: str = KEY_TYPE_REQUIRED, yes: bool = YES):
    invalidated = certificate.delete(session(), key_type, yes)
    if invalidated is not None:
        typer.echo(f"Certificate {invalidated} invalidated on the server")


@app.command("check_client_certificate", help="Whether you have a certificate, locally and on the server (MedPerf main).")
def check_client_certificate(key_type: str = KEY_TYPE_REQUIRED):
    typer.echo(certificate.status(session(), key_type))
