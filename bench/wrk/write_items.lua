-- wrk: POST /v1/items, a new ~300-byte item per request, each with an id of
-- its own (thread letter, round, counter, canonical base64url of 16 bytes).
-- bench/node_bench.sh sets WRITE_TOKEN (the session), WRITE_DATA (the item's
-- base64url data) and WRITE_ROUND (a digit: ids stay new from round to round).
local token = os.getenv("WRITE_TOKEN")
local data = os.getenv("WRITE_DATA")
local round = os.getenv("WRITE_ROUND")
local letters = "BCDEFGHIJKLMNOPQRSTUVWXYZ"
local next_thread = 1

function setup(thread)
  thread:set("prefix", letters:sub(next_thread, next_thread))
  next_thread = next_thread + 1
end

local counter = 0
function request()
  counter = counter + 1
  -- 1 + 1 + 19 + 1 = 22 characters; the last, "A", leaves the 2 spare bits zero.
  local id = prefix .. round .. string.format("%019d", counter) .. "A"
  return wrk.format("POST", "/v1/items",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"id":"' .. id .. '","data":"' .. data .. '"}')
end
