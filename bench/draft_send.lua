-- POST /v1/drafts with send: true from the dataset's account (MISSIVE_RUN_WORKER=false: the
-- mail stays in the outbox, never sent). Env: TOKEN.
package.path = "bench/?.lua;" .. package.path
local b = require("ids")
local body = '{"drafts":{"subject":"Bench","body":"<p>Hello</p>",' ..
  '"from_field":{"address":"support@bench.test"},"to_fields":[{"address":"c@client.test"}],' ..
  '"send":true}}'
request = function()
  return wrk.format("POST", "/v1/drafts", b.headers, body)
end
response = b.check
