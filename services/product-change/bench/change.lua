-- wrk script: POST /api/v1/products/change (or /change/validation with arg "validation")
-- round-robin over N bench lines (0102xxxxxxx). Visit k of a line goes STANDARD->PREMIUM when
-- k is even and back when odd, so each change is valid as long as the previous change of the
-- same line finished (N much larger than the connection count; use ONE wrk thread, the
-- counter is per thread).
-- Usage: wrk -t1 -c16 -d15s -s bench/change.lua http://127.0.0.1:9112 -- <token> <N> [validation]
local token, lines, path, validation
function init(args)
  token = args[1]
  lines = tonumber(args[2] or "128")
  path = "/api/v1/products/change"
  validation = args[3] == "validation"
  if validation then path = path .. "/validation" end
end
local n = 0
function request()
  local i = n % lines
  -- Validation changes nothing: always STANDARD -> PREMIUM.
  local up = validation or (math.floor(n / lines) % 2) == 0
  n = n + 1
  local cur, tgt = "5G-STANDARD-001", "5G-PREMIUM-001"
  if not up then cur, tgt = tgt, cur end
  local body = string.format(
    '{"lineNumber":"0102%07d","currentProductCode":"%s","targetProductCode":"%s"}', i, cur, tgt)
  return wrk.format("POST", path,
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
