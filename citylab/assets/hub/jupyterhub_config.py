"""JupyterHub configuration of a cohort hub (started by 'citylab cohort hub start'; do not edit here).

Everything specific to a cohort comes from the JSON file named by CITYLAB_HUB_SETTINGS,
written by 'citylab cohort hub setup'; secrets are files beside it, readable by root only.
The free ports of the hub's internal API and of the proxy's API are given on the command line.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821
settings = json.loads(Path(os.environ["CITYLAB_HUB_SETTINGS"]).read_text(encoding="utf-8"))
state = Path(settings["state"])


def secret(name: str) -> str:
    return (state / name).read_text(encoding="utf-8").strip()


# Only the proxy listens beyond the hub; put a TLS reverse proxy (nginx, Caddy) in front of it
# for a public address: passwords travel in clear over plain HTTP.
c.JupyterHub.bind_url = f"http://{settings['ip']}:{settings['port']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.auth_token = secret("proxy_token")
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
# Stopping the hub stops the proxy and every learner's server: nothing keeps running.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# Learners log in with the cohort's shared password, instructors with their own (longer) one.
# For production, use the institution's login instead: oauthenticator (OAuth/OIDC, e.g.
# Microsoft Entra, Google) or ltiauthenticator (from the LMS), see the trainer guide.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = secret("learner_password")
c.SharedPasswordAuthenticator.admin_password = secret("instructor_password")
c.Authenticator.allowed_users = set(settings["learners"]) | set(settings["instructors"])
c.Authenticator.admin_users = set(settings["instructors"])

# Each person's server runs as their own OS account: nbgrader knows who submitted by the
# account, and file permissions keep learners apart.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(Path(settings["venv"]) / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120


def role_environment(spawner) -> None:
    """Instructors get formgrader and the cohort's gradebook; learners the assignment list only."""
    role = "instructor" if spawner.user.name in settings["instructors"] else "learner"
    spawner.environment.update({
        "PATH": f"{Path(settings['venv']) / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        # An extra configuration folder: the learner's own ~/.jupyter still keeps their settings.
        "JUPYTER_CONFIG_PATH": settings["config"][role],
    })


c.Spawner.pre_spawn_hook = role_environment

# The trainer's tool (and the tests) drive the hub with this service's token.
c.JupyterHub.services = [{"name": "citylab-trainer", "api_token": secret("service_token")}]
c.JupyterHub.load_roles = [{
    "name": "citylab-trainer",
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"],
    "services": ["citylab-trainer"],
}]
