// Treatment plans with their procedures and estimates. The page imports this module by its feature key; render(panel, ctx) fills the tab
// (ctx: { me, patientId } — the patient whose records are shown). Until the module is deployed
// (feature.available is false) the tab says it is coming.
import { comingSoon } from './coming.js';

export function render(panel) {
  comingSoon(panel, 'ModuleTreatmentPlan');
}
