-- POST of one fixed body (args[1], e.g. a GraphQL query as JSON) on every request. The headers
-- (the token, the content type) come from the command line's -H.
function init(args)
  body = args[1]
  headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  req = wrk.format("POST", nil, headers, body)
end

function request()
  return req
end
