// GraphiQL for /graphql with every file served by the API itself (api/graphiql.py, no CDN).
// A file rather than an inline <script>, so the page's Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";

  var EXAMPLE_QUERY =
    "# 康宁会员社区平台 GraphQL\n" +
    "# Ctrl-Enter 运行查询 / run the query; Ctrl-Space 自动补全 / autocomplete.\n" +
    "# 登录后在下方 Headers 中填写 / after signing in, put in Headers below:\n" +
    '#   {"Authorization": "Bearer <accessToken>"}\n' +
    "\n" +
    "{ __typename }\n";

  // ?query=...&variables=... (and strawberry's ?q=) make a query shareable as a link.
  var parameters = {};
  new URLSearchParams(window.location.search).forEach(function (value, key) {
    parameters[key] = value;
  });

  function updateURL(data) {
    Object.assign(parameters, data);
    var search = new URLSearchParams();
    Object.keys(parameters).forEach(function (key) {
      if (parameters[key]) search.set(key, parameters[key]);
    });
    history.replaceState(null, "", "?" + search.toString());
  }

  var fetchURL = window.location.href.split("?")[0];
  var wsURL = new URL(fetchURL);
  wsURL.protocol = wsURL.protocol === "https:" ? "wss:" : "ws:";
  wsURL.hash = "";

  // Subscriptions go over graphql-transport-ws (the protocol the API speaks). A browser cannot set
  // headers on a WebSocket: GraphiQL's fetcher sends the headers editor's values (Authorization) as
  // connection_init params instead, where api/app.py on_ws_connect reads them.
  var fetcher = GraphiQL.createFetcher({
    url: fetchURL,
    subscriptionUrl: wsURL.toString(),
  });

  function Page() {
    var initialQuery = parameters.query || parameters.q || EXAMPLE_QUERY;
    var state = React.useState(initialQuery);
    var query = state[0];
    var setQuery = state[1];
    var explorer = React.useMemo(function () {
      return GraphiQLPluginExplorer.explorerPlugin();
    }, []);

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      query: query,
      variables: parameters.variables,
      onEditQuery: function (next) {
        setQuery(next);
        updateURL({ query: next, q: "" });
      },
      onEditVariables: function (next) {
        updateURL({ variables: next });
      },
      defaultEditorToolsVisibility: true,
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    });
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(Page));
})();
