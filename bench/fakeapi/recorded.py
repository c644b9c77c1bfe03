"""Documents served as recorded from a real kube-apiserver 1.32: discovery and /version.

Data only.
"""

from __future__ import annotations

# The discovery bodies of discovery-api.http, discovery-api-v1.http, discovery-apis.http and
# discovery-apis-discovery.k8s.io-v1.http, byte for byte without their final newline.

DISCOVERY_API = (
    '{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0'
    '.0.0/0","serverAddress":"127.0.0.1:6443"}]}'
)

DISCOVERY_API_V1 = (
    '{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"bindings","singularN'
    'ame":"binding","namespaced":true,"kind":"Binding","verbs":["create"]},{"name":"component'
    'statuses","singularName":"componentstatus","namespaced":false,"kind":"ComponentStatus","'
    'verbs":["get","list"],"shortNames":["cs"]},{"name":"configmaps","singularName":"configma'
    'p","namespaced":true,"kind":"ConfigMap","verbs":["create","delete","deletecollection","g'
    'et","list","patch","update","watch"],"shortNames":["cm"],"storageVersionHash":"qFsyl6wFW'
    'jQ="},{"name":"endpoints","singularName":"endpoints","namespaced":true,"kind":"Endpoints'
    '","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"'
    'shortNames":["ep"],"storageVersionHash":"fWeeMqaN/OA="},{"name":"events","singularName":'
    '"event","namespaced":true,"kind":"Event","verbs":["create","delete","deletecollection","'
    'get","list","patch","update","watch"],"shortNames":["ev"],"storageVersionHash":"r2yiGXH7'
    'wu8="},{"name":"limitranges","singularName":"limitrange","namespaced":true,"kind":"Limit'
    'Range","verbs":["create","delete","deletecollection","get","list","patch","update","watc'
    'h"],"shortNames":["limits"],"storageVersionHash":"EBKMFVe6cwo="},{"name":"namespaces","s'
    'ingularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["create","delete'
    '","get","list","patch","update","watch"],"shortNames":["ns"],"storageVersionHash":"Q3oi5'
    'N2YM8M="},{"name":"namespaces/finalize","singularName":"","namespaced":false,"kind":"Nam'
    'espace","verbs":["update"]},{"name":"namespaces/status","singularName":"","namespaced":f'
    'alse,"kind":"Namespace","verbs":["get","patch","update"]},{"name":"nodes","singularName"'
    ':"node","namespaced":false,"kind":"Node","verbs":["create","delete","deletecollection","'
    'get","list","patch","update","watch"],"shortNames":["no"],"storageVersionHash":"XwShjMxG'
    '9Fs="},{"name":"nodes/proxy","singularName":"","namespaced":false,"kind":"NodeProxyOptio'
    'ns","verbs":["create","delete","get","patch","update"]},{"name":"nodes/status","singular'
    'Name":"","namespaced":false,"kind":"Node","verbs":["get","patch","update"]},{"name":"per'
    'sistentvolumeclaims","singularName":"persistentvolumeclaim","namespaced":true,"kind":"Pe'
    'rsistentVolumeClaim","verbs":["create","delete","deletecollection","get","list","patch",'
    '"update","watch"],"shortNames":["pvc"],"storageVersionHash":"QWTyNDq0dC4="},{"name":"per'
    'sistentvolumeclaims/status","singularName":"","namespaced":true,"kind":"PersistentVolume'
    'Claim","verbs":["get","patch","update"]},{"name":"persistentvolumes","singularName":"per'
    'sistentvolume","namespaced":false,"kind":"PersistentVolume","verbs":["create","delete","'
    'deletecollection","get","list","patch","update","watch"],"shortNames":["pv"],"storageVer'
    'sionHash":"HN/zwEC+JgM="},{"name":"persistentvolumes/status","singularName":"","namespac'
    'ed":false,"kind":"PersistentVolume","verbs":["get","patch","update"]},{"name":"pods","si'
    'ngularName":"pod","namespaced":true,"kind":"Pod","verbs":["create","delete","deletecolle'
    'ction","get","list","patch","update","watch"],"shortNames":["po"],"categories":["all"],"'
    'storageVersionHash":"xPOwRZ+Yhw8="},{"name":"pods/attach","singularName":"","namespaced"'
    ':true,"kind":"PodAttachOptions","verbs":["create","get"]},{"name":"pods/binding","singul'
    'arName":"","namespaced":true,"kind":"Binding","verbs":["create"]},{"name":"pods/ephemera'
    'lcontainers","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","patch","up'
    'date"]},{"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","ve'
    'rsion":"v1","kind":"Eviction","verbs":["create"]},{"name":"pods/exec","singularName":"",'
    '"namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]},{"name":"pods/log","'
    'singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]},{"name":"pods/portforwa'
    'rd","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create"'
    ',"get"]},{"name":"pods/proxy","singularName":"","namespaced":true,"kind":"PodProxyOption'
    's","verbs":["create","delete","get","patch","update"]},{"name":"pods/resize","singularNa'
    'me":"","namespaced":true,"kind":"Pod","verbs":["get","patch","update"]},{"name":"pods/st'
    'atus","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","patch","update"]}'
    ',{"name":"podtemplates","singularName":"podtemplate","namespaced":true,"kind":"PodTempla'
    'te","verbs":["create","delete","deletecollection","get","list","patch","update","watch"]'
    ',"storageVersionHash":"LIXB2x4IFpk="},{"name":"replicationcontrollers","singularName":"r'
    'eplicationcontroller","namespaced":true,"kind":"ReplicationController","verbs":["create"'
    ',"delete","deletecollection","get","list","patch","update","watch"],"shortNames":["rc"],'
    '"categories":["all"],"storageVersionHash":"Jond2If31h0="},{"name":"replicationcontroller'
    's/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1","kind"'
    ':"Scale","verbs":["get","patch","update"]},{"name":"replicationcontrollers/status","sing'
    'ularName":"","namespaced":true,"kind":"ReplicationController","verbs":["get","patch","up'
    'date"]},{"name":"resourcequotas","singularName":"resourcequota","namespaced":true,"kind"'
    ':"ResourceQuota","verbs":["create","delete","deletecollection","get","list","patch","upd'
    'ate","watch"],"shortNames":["quota"],"storageVersionHash":"8uhSgffRX6w="},{"name":"resou'
    'rcequotas/status","singularName":"","namespaced":true,"kind":"ResourceQuota","verbs":["g'
    'et","patch","update"]},{"name":"secrets","singularName":"secret","namespaced":true,"kind'
    '":"Secret","verbs":["create","delete","deletecollection","get","list","patch","update","'
    'watch"],"storageVersionHash":"S6u1pOWzb84="},{"name":"serviceaccounts","singularName":"s'
    'erviceaccount","namespaced":true,"kind":"ServiceAccount","verbs":["create","delete","del'
    'etecollection","get","list","patch","update","watch"],"shortNames":["sa"],"storageVersio'
    'nHash":"pbx9ZvyFpBE="},{"name":"serviceaccounts/token","singularName":"","namespaced":tr'
    'ue,"group":"authentication.k8s.io","version":"v1","kind":"TokenRequest","verbs":["create'
    '"]},{"name":"services","singularName":"service","namespaced":true,"kind":"Service","verb'
    's":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNa'
    'mes":["svc"],"categories":["all"],"storageVersionHash":"0/CO1lhkEBI="},{"name":"services'
    '/proxy","singularName":"","namespaced":true,"kind":"ServiceProxyOptions","verbs":["creat'
    'e","delete","get","patch","update"]},{"name":"services/status","singularName":"","namesp'
    'aced":true,"kind":"Service","verbs":["get","patch","update"]}]}'
)

DISCOVERY_APIS = (
    '{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apiregistration.k8s.io","ver'
    'sions":[{"groupVersion":"apiregistration.k8s.io/v1","version":"v1"}],"preferredVersion":'
    '{"groupVersion":"apiregistration.k8s.io/v1","version":"v1"}},{"name":"apps","versions":['
    '{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1",'
    '"version":"v1"}},{"name":"events.k8s.io","versions":[{"groupVersion":"events.k8s.io/v1",'
    '"version":"v1"}],"preferredVersion":{"groupVersion":"events.k8s.io/v1","version":"v1"}},'
    '{"name":"authentication.k8s.io","versions":[{"groupVersion":"authentication.k8s.io/v1","'
    'version":"v1"}],"preferredVersion":{"groupVersion":"authentication.k8s.io/v1","version":'
    '"v1"}},{"name":"authorization.k8s.io","versions":[{"groupVersion":"authorization.k8s.io/'
    'v1","version":"v1"}],"preferredVersion":{"groupVersion":"authorization.k8s.io/v1","versi'
    'on":"v1"}},{"name":"autoscaling","versions":[{"groupVersion":"autoscaling/v2","version":'
    '"v2"},{"groupVersion":"autoscaling/v1","version":"v1"}],"preferredVersion":{"groupVersio'
    'n":"autoscaling/v2","version":"v2"}},{"name":"batch","versions":[{"groupVersion":"batch/'
    'v1","version":"v1"}],"preferredVersion":{"groupVersion":"batch/v1","version":"v1"}},{"na'
    'me":"certificates.k8s.io","versions":[{"groupVersion":"certificates.k8s.io/v1","version"'
    ':"v1"}],"preferredVersion":{"groupVersion":"certificates.k8s.io/v1","version":"v1"}},{"n'
    'ame":"networking.k8s.io","versions":[{"groupVersion":"networking.k8s.io/v1","version":"v'
    '1"}],"preferredVersion":{"groupVersion":"networking.k8s.io/v1","version":"v1"}},{"name":'
    '"policy","versions":[{"groupVersion":"policy/v1","version":"v1"}],"preferredVersion":{"g'
    'roupVersion":"policy/v1","version":"v1"}},{"name":"rbac.authorization.k8s.io","versions"'
    ':[{"groupVersion":"rbac.authorization.k8s.io/v1","version":"v1"}],"preferredVersion":{"g'
    'roupVersion":"rbac.authorization.k8s.io/v1","version":"v1"}},{"name":"storage.k8s.io","v'
    'ersions":[{"groupVersion":"storage.k8s.io/v1","version":"v1"}],"preferredVersion":{"grou'
    'pVersion":"storage.k8s.io/v1","version":"v1"}},{"name":"admissionregistration.k8s.io","v'
    'ersions":[{"groupVersion":"admissionregistration.k8s.io/v1","version":"v1"}],"preferredV'
    'ersion":{"groupVersion":"admissionregistration.k8s.io/v1","version":"v1"}},{"name":"apie'
    'xtensions.k8s.io","versions":[{"groupVersion":"apiextensions.k8s.io/v1","version":"v1"}]'
    ',"preferredVersion":{"groupVersion":"apiextensions.k8s.io/v1","version":"v1"}},{"name":"'
    'scheduling.k8s.io","versions":[{"groupVersion":"scheduling.k8s.io/v1","version":"v1"}],"'
    'preferredVersion":{"groupVersion":"scheduling.k8s.io/v1","version":"v1"}},{"name":"coord'
    'ination.k8s.io","versions":[{"groupVersion":"coordination.k8s.io/v1","version":"v1"}],"p'
    'referredVersion":{"groupVersion":"coordination.k8s.io/v1","version":"v1"}},{"name":"node'
    '.k8s.io","versions":[{"groupVersion":"node.k8s.io/v1","version":"v1"}],"preferredVersion'
    '":{"groupVersion":"node.k8s.io/v1","version":"v1"}},{"name":"discovery.k8s.io","versions'
    '":[{"groupVersion":"discovery.k8s.io/v1","version":"v1"}],"preferredVersion":{"groupVers'
    'ion":"discovery.k8s.io/v1","version":"v1"}},{"name":"flowcontrol.apiserver.k8s.io","vers'
    'ions":[{"groupVersion":"flowcontrol.apiserver.k8s.io/v1","version":"v1"}],"preferredVers'
    'ion":{"groupVersion":"flowcontrol.apiserver.k8s.io/v1","version":"v1"}}]}'
)

DISCOVERY_DISCOVERY_V1 = (
    '{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"discovery.k8s.io/v1","resour'
    'ces":[{"name":"endpointslices","singularName":"endpointslice","namespaced":true,"kind":"'
    'EndpointSlice","verbs":["create","delete","deletecollection","get","list","patch","updat'
    'e","watch"],"storageVersionHash":"qgS0xkrxYAI="}]}'
)

# GET /version (version.http): served indented, without a final newline (fact 3).
VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-beta.0+ste.cd13ec4ae44e",
    "gitCommit": "cd13ec4ae44e35ce12aefbb05627be4474ff2b1f",
    "gitTreeState": "clean",
    "buildDate": "2026-11-25T14:11:26Z",
    "goVersion": "go1.27.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}
