// The insurer's page as the widget's README shows it: the official Parlant chat widget,
// rendered inline (not as a floating popup) so the test can type into it at once.
// The host page sets window.WIDGET_CONFIG = {server, agentId, sessionId?, customerId?,
// agentOpeningMessage?}: `server` carries the customer's token in its path (`<agent>/c/<token>`),
// the only channel the widget offers; `sessionId` resumes a conversation instead of starting one
// with the first message; the other two are the widget's own props, passed as the page sets them.
import { createRoot } from "react-dom/client";
import ParlantChatbox from "parlant-chat-react";

const config = window.WIDGET_CONFIG;
createRoot(document.getElementById("chat")).render(
  <ParlantChatbox
    server={config.server}
    agentId={config.agentId}
    sessionId={config.sessionId}
    customerId={config.customerId}
    agentOpeningMessage={config.agentOpeningMessage}
  />,
);
