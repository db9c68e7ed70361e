"""The platform's login page (统一身份认证) for the demo identities."""

from __future__ import annotations

from html import escape

PASSED_ON = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def login_page(params: dict[str, str], error: str | None = None, username: str = "") -> str:
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
        for name in PASSED_ON
        if name in params
    )
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>统一身份认证 · 参考平台</title>
<style>
body {{ font: 18px/1.5 system-ui, "Noto Sans CJK SC", sans-serif; margin: 0; background: #f2f4f7; }}
main {{ max-width: 420px; margin: 0 auto; padding: 2rem 1rem; }}
h1 {{ font-size: 1.4rem; color: #7a1c1c; }}
label {{ display: block; margin: .75rem 0; font-weight: 600; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; min-height: 48px; font: inherit; padding: .5rem; }}
button {{ width: 100%; min-height: 52px; font: inherit; font-weight: 700; background: #7a1c1c; color: #fff; border: 0; border-radius: 8px; }}
.error {{ color: #c0161c; font-weight: 700; }}
.muted {{ color: #555; font-size: .9rem; }}
</style></head>
<body><main>
<h1>统一身份认证</h1>
<p class="muted">参考平台（演示用，代替省级监管平台的单点登录）</p>
{alert}
<form method="post" action="/oidc/authorize">
{hidden}
<label>账号<input type="text" name="username" autocomplete="username" value="{escape(username)}"></label>
<label>密码<input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">登录</button>
</form>
</main></body></html>"""


def error_page(message: str) -> str:
    return f"""<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>统一身份认证</title>
<main style="font: 18px system-ui, sans-serif; padding: 2rem"><h1>无法登录</h1><p>{escape(message)}</p></main></html>"""
