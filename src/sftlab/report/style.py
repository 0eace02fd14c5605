"""The report page's stylesheet."""

_CSS = """
:root{--fg:#1d2330;--muted:#5d6777;--line:#e3e6eb;--bg:#f6f7f9;--card:#fff;--ok:#1a7f37;--bad:#c62828;--accent:#3b5bdb;
  --mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
  font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 28px 48px}
header h1{margin:0 0 10px;font-size:28px;letter-spacing:-.01em}
header dl{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0;color:var(--muted);font-size:13.5px}
header dl div{display:flex;gap:6px}
header dt{font-weight:600;color:var(--fg)}
header dd{margin:0}
nav{display:flex;flex-wrap:wrap;gap:6px;margin:16px 0 6px}
nav a{font-size:13px;color:var(--accent);text-decoration:none;background:#e9edfb;padding:3px 10px;border-radius:999px}
nav a:hover{background:#dbe2fa}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:18px 0}
h2{margin:0 0 6px;font-size:19px}
h3{margin:18px 0 8px;font-size:15.5px}
h3 small{color:var(--muted);font-weight:400}
.caption{margin:0 0 12px;color:var(--muted);font-size:13px}
figure{margin:12px 0}
figcaption{color:var(--muted);font-size:13px;text-align:center;margin-top:4px}
img{max-width:100%;height:auto;display:block;margin:0 auto}
table{border-collapse:collapse;width:100%;font-size:14.5px}
th,td{padding:8px 12px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #c9ced6;font-weight:600;white-space:nowrap}
thead th small{display:block;font-weight:400;color:var(--muted)}
tbody th{font-weight:600}
tbody th small{display:block;font-weight:400;color:var(--muted);font-size:12.5px;max-width:420px}
tbody tr:nth-child(even){background:#fafbfc}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.best{font-weight:700}
td small.ci{display:block;font-weight:400;color:var(--muted);font-size:12px}
.examples{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}
.example{border:1px solid var(--line);border-left:4px solid var(--ok);border-radius:8px;padding:10px 12px;
  background:#fcfcfd;min-width:0}
.example.bad{border-left-color:var(--bad)}
.ex-head{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin-bottom:6px;font-size:13px}
.mark{font-weight:700;color:var(--ok)}
.example.bad .mark{color:var(--bad)}
.badge{background:#eef0f4;color:var(--muted);border-radius:999px;padding:1px 8px;font-size:12px}
.ref{margin-left:auto;color:var(--muted)}
.lbl{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin-top:6px}
pre{margin:2px 0 0;padding:7px 9px;background:#f3f4f7;border-radius:6px;white-space:pre-wrap;word-break:break-word;
  font:12.5px/1.45 var(--mono);max-height:16em;overflow:auto}
code{font:12.5px var(--mono);background:#eef0f4;padding:0 4px;border-radius:4px}
ul{margin:4px 0;padding-left:22px}
li{margin:3px 0}
details summary{cursor:pointer;color:var(--accent)}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
"""
