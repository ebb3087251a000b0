-- wrk: POST /v1/sessions, a login with the master password's auth key (no
-- second factor), again and again. bench/run sets LOGIN_EMAIL and
-- LOGIN_AUTH_KEY in the environment. Each answer is a new session.
local email = os.getenv("LOGIN_EMAIL")
local auth_key = os.getenv("LOGIN_AUTH_KEY")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"' .. email .. '","auth_key":"' .. auth_key ..
  '","device":{"id":"YmVuY2gtbG9naW4tZGV2aWNl","name":"bench","type":"cli"}}'
