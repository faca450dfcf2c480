# shellcheck shell=bash
# python_default_web BUILD_DIR: prints the default `web` command, or nothing.
#
# Berth proposes a default only when it is unambiguous, and only with gunicorn
# installed in the app's virtualenv (.heroku/python/bin/gunicorn):
#   - Django (manage.py): exactly one PACKAGE/wsgi.py defining `application`
#       -> gunicorn PACKAGE.wsgi
#   - otherwise exactly one of these candidates:
#       wsgi.py defining `application` (or else `app`) -> gunicorn wsgi:application / wsgi:app
#       app.py defining `app` (not an ASGI framework)  -> gunicorn app:app
# gunicorn binds to 0.0.0.0:$PORT by itself and reads WEB_CONCURRENCY.
# Anything else needs a Procfile.
python_default_web() {
  local dir=$1 wsgi=() candidates=() pkg
  [[ -x $dir/.heroku/python/bin/gunicorn ]] || return 0
  if [[ -f $dir/manage.py ]]; then
    mapfile -t wsgi < <(cd "$dir" && find . -mindepth 2 -maxdepth 2 -name wsgi.py -not -path './.*' | sort)
    if ((${#wsgi[@]} == 1)) && grep -qE '^application[[:space:]]*=' "$dir/${wsgi[0]}"; then
      pkg=${wsgi[0]#./}
      pkg=${pkg%/wsgi.py}
      if [[ $pkg =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        echo "gunicorn $pkg.wsgi"
      fi
    fi
    return 0
  fi
  if [[ -f $dir/wsgi.py ]]; then
    if grep -qE '^application[[:space:]]*=' "$dir/wsgi.py"; then
      candidates+=("gunicorn wsgi:application")
    elif grep -qE '^app[[:space:]]*=' "$dir/wsgi.py"; then
      candidates+=("gunicorn wsgi:app")
    fi
  fi
  if [[ -f $dir/app.py ]] && grep -qE '^app[[:space:]]*=' "$dir/app.py" &&
    ! grep -qE 'FastAPI|Starlette|Quart|Sanic|aiohttp|Litestar|asgi' "$dir/app.py"; then
    candidates+=("gunicorn app:app")
  fi
  if ((${#candidates[@]} == 1)); then
    echo "${candidates[0]}"
  fi
  return 0
}
