"""Text files placed into the kube lab's images (see grader/lab/kubeimages_rootfs.py).

They copy what the upstream images hold, so that a candidate who mounts a ConfigMap
over /etc/nginx/conf.d/default.conf or /usr/share/nginx/html, or runs
`curlimages/curl -- -s http://svc`, sees what the real images do.  No IPv6 `listen`
line: a pod's network may lack IPv6, and upstream adds it only when IPv6 is there.
"""
from __future__ import annotations

# users and groups: distroless's (root, nobody, nonroot) and busybox's own
DISTROLESS_USERS = ("root:x:0:0:root:/root:/sbin/nologin\n"
                    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
DISTROLESS_GROUPS = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
BUSYBOX_USERS = ("root:x:0:0:root:/root:/bin/sh\n"
                 "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                 "bin:x:2:2:bin:/bin:/bin/false\n"
                 "sys:x:3:3:sys:/dev:/bin/false\n"
                 "sync:x:4:100:sync:/bin:/bin/sync\n"
                 "mail:x:8:8:mail:/var/spool/mail:/bin/false\n"
                 "www-data:x:33:33:www-data:/var/www:/bin/false\n"
                 "operator:x:37:37:Operator:/var:/bin/false\n"
                 "nobody:x:65534:65534:nobody:/home:/bin/false\n")
BUSYBOX_GROUPS = "".join(f"{name}:x:{gid}:\n" for name, gid in (
    ("root", 0), ("daemon", 1), ("bin", 2), ("sys", 3), ("adm", 4), ("tty", 5), ("disk", 6), ("lp", 7),
    ("mail", 8), ("kmem", 9), ("wheel", 10), ("cdrom", 11), ("dialout", 18), ("floppy", 19), ("video", 28),
    ("audio", 29), ("tape", 32), ("www-data", 33), ("operator", 37), ("utmp", 43), ("plugdev", 46),
    ("staff", 50), ("lock", 54), ("netdev", 82), ("users", 100), ("nogroup", 65534)))

NGINX_CONF = """\
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;


events {
    worker_connections  1024;
}


http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
"""

NGINX_DEFAULT = """\
server {
    listen       80;
    server_name  localhost;

    #access_log  /var/log/nginx/host.access.log  main;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    #error_page  404              /404.html;

    # redirect server error pages to the static page /50x.html
    #
    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
"""

NGINX_INDEX = """\
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""

NGINX_50X = """\
<!DOCTYPE html>
<html>
<head>
<title>Error</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
<p><em>Faithfully yours, nginx.</em></p>
</body>
</html>
"""

# curlimages/curl's entrypoint: `-- -s URL` and `-- curl -s URL` both run curl
CURL_ENTRYPOINT = """\
#!/bin/sh
set -e

if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ]; then
  set -- curl "$@"
fi

exec "$@"
"""
