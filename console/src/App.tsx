import { Center, Loader } from "@mantine/core";
import { Navigate, Route, Routes } from "react-router-dom";
import { LoginPage } from "./auth/LoginPage";
import { SessionProvider } from "./auth/session";
import { Shell } from "./layout/Shell";

const loading = (
  <Center mih="100vh">
    <Loader role="status" aria-label="Loading" />
  </Center>
);

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        path="/compliance/:tab"
        element={
          <SessionProvider fallback={loading}>
            <Shell />
          </SessionProvider>
        }
      />
      <Route
        path="/vulnerabilities/:tab/:id?"
        element={
          <SessionProvider fallback={loading}>
            <Shell area="vulnerabilities" />
          </SessionProvider>
        }
      />
      <Route path="/vulnerabilities" element={<Navigate to="/vulnerabilities/cves" replace />} />
      <Route path="*" element={<Navigate to="/compliance/dashboard" replace />} />
    </Routes>
  );
}
