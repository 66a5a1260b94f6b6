package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	authv1 "github.com/irpgate/irpgate/gen/go/irpgate/auth/v1"
	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/server"
	"github.com/irpgate/irpgate/pkg/irpcrypto"
	"github.com/irpgate/irpgate/services/sandbox"
)

// The parts of the rendered objects the checks read.
type (
	k8sObject struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
		Spec json.RawMessage   `json:"spec"`
	}
	deploymentSpec struct {
		Template struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Containers []container `json:"containers"`
				Volumes    []struct {
					Name   string `json:"name"`
					Secret *struct {
						SecretName string `json:"secretName"`
						Items      []struct{ Key, Path string }
					} `json:"secret"`
				} `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	}
	container struct {
		Args    []string `json:"args"`
		EnvFrom []struct {
			ConfigMapRef struct{ Name string } `json:"configMapRef"`
		} `json:"envFrom"`
		Env []struct {
			Name      string `json:"name"`
			Value     string `json:"value"`
			ValueFrom *struct {
				SecretKeyRef *struct{ Name, Key string } `json:"secretKeyRef"`
			} `json:"valueFrom"`
		} `json:"env"`
		Ports                         []containerPort `json:"ports"`
		ReadinessProbe, LivenessProbe *probe
		VolumeMounts                  []struct{ Name, MountPath, SubPath string }
	}
	containerPort struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	}
	probe struct {
		HTTPGet   *struct{ Path, Port any } `json:"httpGet"`
		GRPC      *struct{ Port int }       `json:"grpc"`
		TCPSocket *struct{ Port any }       `json:"tcpSocket"`
	}
	serviceSpec struct {
		Selector map[string]string `json:"selector"`
		Ports    []struct {
			Port       int `json:"port"`
			TargetPort any `json:"targetPort"`
		} `json:"ports"`
	}
)

// deployment is one rendered Deployment: its container's environment as the pod sees it
// (ConfigMap entries, then env; a secret's value as "secret:NAME/KEY").
type deployment struct {
	name  string
	c     container
	spec  deploymentSpec
	env   map[string]string
	ports map[string]int // by name and by number
}

func (d deployment) declares(port int) bool {
	return slices.ContainsFunc(d.c.Ports, func(p containerPort) bool { return p.ContainerPort == port })
}

func (d deployment) port(p any) int {
	switch v := p.(type) {
	case float64:
		return int(v)
	case string:
		return d.ports[v]
	}
	return 0
}

// renderOverlay builds a kustomize overlay of deploy/k8s as `kubectl apply -k` would.
func renderOverlay(t *testing.T, overlay string) (map[string]deployment, map[string]serviceSpec) {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join("..", "..", "deploy", "k8s", "overlays", overlay))
	require.NoError(t, err)
	var objs []k8sObject
	config := map[string]map[string]string{}
	for _, r := range res.Resources() {
		b, err := r.MarshalJSON()
		require.NoError(t, err)
		var o k8sObject
		require.NoError(t, json.Unmarshal(b, &o))
		objs = append(objs, o)
		if o.Kind == "ConfigMap" {
			config[o.Metadata.Name] = o.Data
		}
	}
	deps, svcs := map[string]deployment{}, map[string]serviceSpec{}
	for _, o := range objs {
		switch o.Kind {
		case "Deployment":
			var s deploymentSpec
			require.NoError(t, json.Unmarshal(o.Spec, &s))
			require.Len(t, s.Template.Spec.Containers, 1, o.Metadata.Name)
			d := deployment{name: o.Metadata.Name, c: s.Template.Spec.Containers[0], spec: s, env: map[string]string{}, ports: map[string]int{}}
			for _, from := range d.c.EnvFrom {
				data, ok := config[from.ConfigMapRef.Name]
				require.True(t, ok, "%s: envFrom names ConfigMap %q, which the overlay lacks", d.name, from.ConfigMapRef.Name)
				for k, v := range data {
					d.env[k] = v
				}
			}
			for _, e := range d.c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					d.env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
					continue
				}
				d.env[e.Name] = e.Value
			}
			for _, p := range d.c.Ports {
				d.ports[p.Name] = p.ContainerPort
			}
			deps[d.name] = d
		case "Service":
			var s serviceSpec
			require.NoError(t, json.Unmarshal(o.Spec, &s))
			svcs[o.Metadata.Name] = s
		}
	}
	return deps, svcs
}

// config is the Deployment's `irpgate serve` configuration, read by the binary's own flag
// and environment binding from its args and env (after rewrite), and the IRPGATE_*
// variables the binding knows.
func (d deployment) config(t *testing.T, rewrite func(name, value string) string) (server.Config, map[string]bool) {
	t.Helper()
	cfg := server.Defaults()
	known := map[string]bool{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	require.NoError(t, platform.BindFlagsEnv(fs, &cfg, func(name string) (string, bool) {
		known[name] = true
		v, ok := d.env[name]
		if ok && rewrite != nil {
			v = rewrite(name, v)
		}
		return v, ok
	}))
	require.Equal(t, "serve", d.c.Args[0], "%s: args", d.name)
	require.NoError(t, fs.Parse(d.c.Args[1:]), "%s: args", d.name)
	return cfg, known
}

// The manifests in deploy/k8s, checked as the cluster would read them: every overlay
// builds; every variable is one irpgate reads, secrets come from Secrets, every file and
// directory it names is mounted, every listen address binds the pod's interfaces on a
// declared port, every probe asks a declared port, and every peer address is a Service
// leading to a Deployment that runs that role.
func TestKubernetesManifests(t *testing.T) {
	for _, overlay := range []string{"sandbox", "nic-sandbox"} {
		t.Run(overlay, func(t *testing.T) {
			deps, svcs := renderOverlay(t, overlay)
			require.Contains(t, deps, "irpgate-auth")
			require.Contains(t, deps, "irpgate-einvoice")
			require.Contains(t, deps, "irpgate-gateway")
			roleOf := map[string][]string{}
			for _, d := range deps {
				cfg, _ := d.config(t, nil)
				roles, err := cfg.Roles()
				require.NoError(t, err, d.name)
				roleOf[d.name] = roles
			}
			for _, d := range deps {
				cfg, known := d.config(t, nil)
				for name, v := range d.env {
					require.True(t, known[name] || name == "IRPGATE_SERVICE_KEY_FILE" || name == "GOMEMLIMIT" || strings.HasPrefix(name, "OTEL_"),
						"%s: %s is not a variable irpgate reads", d.name, name)
					if name == "IRPGATE_ADMIN_KEY" || name == "IRPGATE_DATABASE_URL" {
						require.True(t, strings.HasPrefix(v, "secret:"), "%s: %s must come from a Secret, not a literal", d.name, name)
					}
				}
				for name, v := range d.env {
					if !strings.HasSuffix(name, "_FILE") && !strings.HasSuffix(name, "_DIR") {
						continue
					}
					mounted := slices.ContainsFunc(d.c.VolumeMounts, func(m struct{ Name, MountPath, SubPath string }) bool {
						return v == m.MountPath || strings.HasPrefix(v, strings.TrimSuffix(m.MountPath, "/")+"/")
					})
					require.True(t, mounted, "%s: %s=%s is on no mounted volume", d.name, name, v)
				}
				for flagName, addr := range map[string]string{"grpc-addr": cfg.GRPCAddr, "http-addr": cfg.HTTPAddr, "sandbox-addr": cfg.SandboxAddr} {
					serves := map[string]bool{
						"grpc-addr": slices.ContainsFunc(roleOf[d.name], func(r string) bool { return r != server.RoleGateway && r != server.RoleSandbox }),
						"http-addr": !slices.Equal(roleOf[d.name], []string{server.RoleSandbox}), "sandbox-addr": slices.Contains(roleOf[d.name], server.RoleSandbox),
					}[flagName]
					if !serves {
						continue
					}
					host, port, err := net.SplitHostPort(addr)
					require.NoError(t, err, "%s: --%s", d.name, flagName)
					require.Contains(t, []string{"", "0.0.0.0", "::"}, host, "%s: --%s=%s listens on the pod's loopback only", d.name, flagName, addr)
					require.True(t, d.declares(mustAtoi(t, port)), "%s: --%s port %s is not a container port", d.name, flagName, port)
				}
				for _, p := range []*probe{d.c.ReadinessProbe, d.c.LivenessProbe} {
					if p == nil {
						continue
					}
					switch {
					case p.GRPC != nil:
						require.Equal(t, portOf(t, cfg.GRPCAddr), p.GRPC.Port, "%s: gRPC probe", d.name)
					case p.HTTPGet != nil:
						require.Equal(t, portOf(t, cfg.HTTPAddr), d.port(p.HTTPGet.Port), "%s: HTTP probe", d.name)
						require.Equal(t, "/healthz", p.HTTPGet.Path)
					case p.TCPSocket != nil:
						require.NotZero(t, d.port(p.TCPSocket.Port), "%s: TCP probe port", d.name)
					}
				}
				// Peers: each address names a Service whose port leads to a pod running the role.
				peers := map[string]string{}
				if !slices.Contains(roleOf[d.name], server.RoleAuth) {
					peers[server.RoleAuth] = cfg.AuthAddr
				}
				if slices.Contains(roleOf[d.name], server.RoleGateway) && !slices.Contains(roleOf[d.name], server.RoleEInvoice) {
					peers[server.RoleEInvoice] = cfg.EInvoiceAddr
				}
				if slices.ContainsFunc(roleOf[d.name], func(r string) bool { return r == server.RoleAuth || r == server.RoleEInvoice }) {
					require.NotEmpty(t, cfg.IRPURLs, "%s: no IRP URLs", d.name)
					for pair := range strings.SplitSeq(cfg.IRPURLs, ",") {
						_, raw, _ := strings.Cut(pair, "=")
						u, err := url.Parse(raw)
						require.NoError(t, err)
						if !strings.Contains(u.Host, ".") {
							peers[server.RoleSandbox] = u.Host
						}
					}
				}
				if slices.Equal(roleOf[d.name], []string{server.RoleSandbox}) {
					peers = nil
				}
				for role, addr := range peers {
					host, port, err := net.SplitHostPort(addr)
					require.NoError(t, err, "%s: address of %s", d.name, role)
					svc, ok := svcs[host]
					require.True(t, ok, "%s: %s is reached at %s, but no Service is named %q", d.name, role, addr, host)
					var target any
					for _, p := range svc.Ports {
						if fmt.Sprint(p.Port) == port {
							target = p.TargetPort
						}
					}
					require.NotNil(t, target, "%s: Service %s has no port %s", d.name, host, port)
					found := false
					for _, peer := range deps {
						if !labelsMatch(svc.Selector, peer.spec.Template.Metadata.Labels) {
							continue
						}
						require.Contains(t, roleOf[peer.name], role, "Service %s leads to %s, which does not run %s", host, peer.name, role)
						require.NotZero(t, peer.port(target), "Service %s: target port %v is not a port of %s", host, target, peer.name)
						found = true
					}
					require.True(t, found, "Service %s selects no Deployment", host)
				}
			}
		})
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func portOf(t *testing.T, addr string) int {
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return mustAtoi(t, p)
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err, s)
	return n
}

// The sandbox overlay's four Deployments, each started as its pod would start it (its
// args and env through the binary's own flag binding, its Secrets as files where they
// are mounted), wired only by what the manifests say: Service names become the loopback
// addresses of the roles behind them, PostgreSQL is the test server. A registration
// through the gateway then comes back signed by the sandbox, as in the cluster.
func TestKubernetesSandboxOverlayRuns(t *testing.T) {
	deps, svcs := renderOverlay(t, "sandbox")
	root := t.TempDir()

	// The Secrets the README has the operator create.
	keys := filepath.Join(root, "sandbox-keys")
	_, err := sandbox.WriteKeySet(keys)
	require.NoError(t, err)
	random := func() []byte {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		require.NoError(t, err)
		return []byte(base64.StdEncoding.EncodeToString(b) + "\n")
	}
	secrets := map[string]map[string][]byte{
		"irpgate":     {"master.key": random(), "service.key": random(), "admin-key": []byte(e2eAdminKey), "database-url": []byte(postgresURL(t))},
		"irpgate-irp": {}, "irpgate-sandbox": {},
	}
	for _, f := range []string{sandbox.IRPPublicKeyFile, sandbox.IRPCertFile} {
		secrets["irpgate-irp"][f] = mustRead(t, filepath.Join(keys, f))
	}
	for _, f := range []string{sandbox.EncryptionKeyFile, sandbox.SigningKeyFile, sandbox.SigningCertFile} {
		secrets["irpgate-sandbox"][f] = mustRead(t, filepath.Join(keys, f))
	}

	bound := map[string]map[int]string{} // Deployment -> container port -> loopback address
	start := func(name string) *server.Server {
		d := deps[name]
		// Each pod's file system: its volumes' mount paths under a directory of its own.
		podRoot := filepath.Join(root, name)
		for _, m := range d.c.VolumeMounts {
			dst := filepath.Join(podRoot, m.MountPath)
			for _, v := range d.spec.Template.Spec.Volumes {
				if v.Name != m.Name {
					continue
				}
				if v.Secret == nil {
					require.NoError(t, os.MkdirAll(dst, 0o700))
					continue
				}
				data, ok := secrets[v.Secret.SecretName]
				require.True(t, ok, "%s mounts Secret %s, which the README does not create", name, v.Secret.SecretName)
				files := map[string]string{}
				for k := range data {
					files[k] = k
				}
				if len(v.Secret.Items) > 0 {
					files = map[string]string{}
					for _, it := range v.Secret.Items {
						files[it.Key] = it.Path
					}
				}
				if m.SubPath != "" {
					require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o700))
					require.NoError(t, os.WriteFile(dst, data[m.SubPath], 0o600))
					continue
				}
				require.NoError(t, os.MkdirAll(dst, 0o700))
				for k, p := range files {
					require.Contains(t, data, k, "%s: Secret %s has no key %s", name, v.Secret.SecretName, k)
					require.NoError(t, os.WriteFile(filepath.Join(dst, p), data[k], 0o600))
				}
			}
		}
		cfg, _ := d.config(t, func(env, v string) string {
			if s, ok := strings.CutPrefix(v, "secret:"); ok {
				sec, key, _ := strings.Cut(s, "/")
				return strings.TrimSpace(string(secrets[sec][key]))
			}
			if strings.HasPrefix(v, "/") {
				return filepath.Join(podRoot, v)
			}
			return rewriteAddrs(t, v, svcs, deps, bound)
		})
		for _, a := range []*string{&cfg.GRPCAddr, &cfg.HTTPAddr, &cfg.SandboxAddr} {
			*a = "127.0.0.1:0"
		}
		t.Setenv("IRPGATE_SERVICE_KEY_FILE", filepath.Join(podRoot, d.env["IRPGATE_SERVICE_KEY_FILE"]))
		srv, err := server.Start(t.Context(), cfg, server.Options{LogOutput: io.Discard})
		require.NoError(t, err, name)
		t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.WithoutCancel(t.Context()))) })
		raw, _ := d.config(t, nil)
		bound[name] = map[int]string{
			portOf(t, raw.GRPCAddr):    srv.GRPCAddr,
			portOf(t, raw.HTTPAddr):    srv.HTTPAddr,
			portOf(t, raw.SandboxAddr): strings.TrimPrefix(srv.SandboxURL, "http://"),
		}
		return srv
	}
	sb := start("irpgate-sandbox")
	auth := start("irpgate-auth")
	start("irpgate-einvoice")
	gw := start("irpgate-gateway")

	// The operator's first steps: the seller's IRP credentials and an API key.
	conn, err := grpc.NewClient(auth.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ac := authv1.NewAuthServiceClient(conn)
	admin := bearer(t.Context(), token(t, ac, e2eAdminKey))
	var users []sandbox.User
	getJSON(t, sb.SandboxURL+"/sandbox/admin/users", &users)
	for _, u := range users {
		if u.GSTIN == e2eSeller {
			_, err := ac.RegisterCredential(admin, &authv1.RegisterCredentialRequest{
				Gstin: u.GSTIN, Irp: "NIC1", ClientId: u.ClientID, ClientSecret: u.ClientSecret, Username: u.UserName, Password: u.Password,
			})
			require.NoError(t, err)
		}
	}
	k, err := ac.CreateApiKey(admin, &authv1.CreateApiKeyRequest{Tenant: "k8s", Gstins: []string{e2eSeller}})
	require.NoError(t, err)

	e := &e2e{base: "http://" + gw.HTTPAddr}
	e.certs, err = irpcrypto.ParseCertificates(secrets["irpgate-irp"][sandbox.IRPCertFile])
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.base+"/v1/einvoice/irn", strings.NewReader(string(mustJSON(t, e2eInvoice("")))))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", k.GetApiKey())
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		Details struct{ Irn, SignedInvoice, SignedQRCode string } `json:"details"`
	}
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	require.NoError(t, json.Unmarshal(body, &out))
	e.requireSigned(t, out.Details.SignedInvoice, out.Details.SignedQRCode, out.Details.Irn)
}

// rewriteAddrs turns every host:port (or URL) naming a Service into the loopback address
// of the started Deployment behind it.
func rewriteAddrs(t *testing.T, v string, svcs map[string]serviceSpec, deps map[string]deployment, bound map[string]map[int]string) string {
	for name, svc := range svcs {
		for _, p := range svc.Ports {
			hostPort := fmt.Sprintf("%s:%d", name, p.Port)
			if !strings.Contains(v, hostPort) {
				continue
			}
			for _, d := range deps {
				if labelsMatch(svc.Selector, d.spec.Template.Metadata.Labels) && bound[d.name] != nil {
					v = strings.ReplaceAll(v, hostPort, bound[d.name][d.port(p.TargetPort)])
				}
			}
		}
	}
	return v
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// renderTyped builds an overlay and decodes each object into its Kubernetes API type as
// the API server does with strict field validation (kubectl's default): an unknown or
// duplicated field, or a value of the wrong type, fails here instead of at apply time.
func renderTyped(t *testing.T, overlay string) []any {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join("..", "..", "deploy", "k8s", "overlays", overlay))
	require.NoError(t, err)
	var objs []any
	for _, r := range res.Resources() {
		b, err := r.MarshalJSON()
		require.NoError(t, err)
		var obj any
		switch kind := r.GetKind(); kind {
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "Service":
			obj = &corev1.Service{}
		case "ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "HorizontalPodAutoscaler":
			obj = &autoscalingv2.HorizontalPodAutoscaler{}
		default:
			t.Fatalf("%s/%s: kind %s has no type in this test; add it", overlay, r.GetName(), kind)
		}
		strict, err := k8sjson.UnmarshalStrict(b, obj)
		require.NoError(t, err, "%s/%s", r.GetKind(), r.GetName())
		require.Empty(t, strict, "%s/%s: the API server would refuse these fields", r.GetKind(), r.GetName())
		objs = append(objs, obj)
	}
	return objs
}

// How the roles roll out and scale: every stateless role (auth, einvoice, gateway) is
// scaled by an autoscaler from two replicas, never drops below one in a disruption or
// below its count during a rollout, runs as its own service account without an API
// token, non-root on a read-only root filesystem with no capabilities, and declares its
// resources.
func TestKubernetesRollout(t *testing.T) {
	for _, overlay := range []string{"sandbox", "nic-sandbox"} {
		t.Run(overlay, func(t *testing.T) {
			objs := renderTyped(t, overlay)
			deps := map[string]*appsv1.Deployment{}
			hpas := map[string]*autoscalingv2.HorizontalPodAutoscaler{}
			pdbs := map[string]*policyv1.PodDisruptionBudget{}
			sas := map[string]*corev1.ServiceAccount{}
			for _, o := range objs {
				switch o := o.(type) {
				case *appsv1.Deployment:
					deps[o.Name] = o
				case *autoscalingv2.HorizontalPodAutoscaler:
					hpas[o.Spec.ScaleTargetRef.Name] = o
				case *policyv1.PodDisruptionBudget:
					pdbs[o.Name] = o
				case *corev1.ServiceAccount:
					sas[o.Name] = o
				}
			}
			for _, name := range []string{"irpgate-auth", "irpgate-einvoice", "irpgate-gateway"} {
				d := deps[name]
				require.NotNil(t, d, name)
				require.Nil(t, d.Spec.Replicas, "%s: replicas set beside an autoscaler; every apply would reset the count", name)
				hpa := hpas[name]
				require.NotNil(t, hpa, "%s: no HorizontalPodAutoscaler", name)
				require.Equal(t, "Deployment", hpa.Spec.ScaleTargetRef.Kind, name)
				require.NotNil(t, hpa.Spec.MinReplicas, name)
				require.GreaterOrEqual(t, *hpa.Spec.MinReplicas, int32(2), "%s: minReplicas", name)
				require.Greater(t, hpa.Spec.MaxReplicas, *hpa.Spec.MinReplicas, name)

				require.Equal(t, appsv1.RollingUpdateDeploymentStrategyType, d.Spec.Strategy.Type, name)
				ru := d.Spec.Strategy.RollingUpdate
				require.NotNil(t, ru, name)
				require.Equal(t, 0, ru.MaxUnavailable.IntValue(), "%s: maxUnavailable", name)
				require.Positive(t, d.Spec.MinReadySeconds, "%s: minReadySeconds", name)

				pdb := pdbs[name]
				require.NotNil(t, pdb, "%s: no PodDisruptionBudget", name)
				sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				require.NoError(t, err)
				require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "%s: the PodDisruptionBudget selects other pods", name)

				pod := d.Spec.Template.Spec
				require.NotNil(t, sas[pod.ServiceAccountName], "%s: service account %q is not in the overlay", name, pod.ServiceAccountName)
				require.NotEqual(t, "default", pod.ServiceAccountName, name)
				require.NotNil(t, pod.AutomountServiceAccountToken, name)
				require.False(t, *pod.AutomountServiceAccountToken, "%s: an API token is mounted", name)
			}
			for name, d := range deps {
				pod := d.Spec.Template.Spec
				require.NotNil(t, pod.SecurityContext.RunAsNonRoot, name)
				require.True(t, *pod.SecurityContext.RunAsNonRoot, name)
				for _, c := range pod.Containers {
					sc := c.SecurityContext
					require.NotNil(t, sc, name)
					require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s: root filesystem writable", name)
					require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s: privilege escalation", name)
					require.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, name)
					require.False(t, c.Resources.Requests.Cpu().IsZero(), "%s: no CPU request", name)
					require.False(t, c.Resources.Requests.Memory().IsZero(), "%s: no memory request", name)
					require.False(t, c.Resources.Limits.Memory().IsZero(), "%s: no memory limit", name)
					// The Go runtime knows the limit, a little under it: it then collects
					// harder as the heap nears the limit instead of being killed.
					limit := float64(c.Resources.Limits.Memory().Value())
					soft := float64(goMemLimit(t, c.Env))
					require.True(t, soft >= 0.8*limit && soft <= 0.95*limit,
						"%s: GOMEMLIMIT %.0f bytes is not 80-95%% of the memory limit %.0f", name, soft, limit)
				}
			}
		})
	}
}

// goMemLimit is the container's GOMEMLIMIT in bytes, read as the Go runtime reads it (a
// number of bytes with an optional B, KiB, MiB, GiB or TiB).
func goMemLimit(t *testing.T, env []corev1.EnvVar) int64 {
	t.Helper()
	for _, e := range env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		v := e.Value
		unit := int64(1)
		for _, u := range []struct {
			suffix string
			n      int64
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
			if s, ok := strings.CutSuffix(v, u.suffix); ok {
				v, unit = s, u.n
				break
			}
		}
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "GOMEMLIMIT %q", e.Value)
		return n * unit
	}
	t.Fatal("no GOMEMLIMIT in the container's env")
	return 0
}
